--[[ docx-tables.lua — tables that fit the page in Word output.

pandoc's docx writer gives a table without column widths an automatic layout
that Word and LibreOffice squeeze column by column, breaking words in the
stub ("Characteri stic").  This filter sizes every table with columns sized
to their content (fixed layout), as wide as its content when that is narrower
than the text width, else the text width:

* each column gets at least the width of its longest word (bold text and the
  header counted wider), so no word breaks while the table fits, and at
  least MIN_COLUMN_EM em;
* the rest of the width goes to the columns in proportion to how much wider
  their longest cell is than their longest word;
* a body cell of numbers (not in the stub) is not to wrap: its column is at
  least as wide as all of it, the stub taking what is left and wrapping
  between its words; a table whose numbers do not fit so is set in the
  character style "Table Text Small" (7.5 pt), and one whose numbers do not
  fit even then wraps them as before;
* the numbers' columns right-aligned, as the PDF's (great-tables centres them);
* the estimate assumes the cells' paragraph style "Table Text" (IBM Plex Serif
  8.5 pt, the body's family),
  which analysis/render/docx_layout.py gives them after pandoc (pandoc's writer
  styles every cell "Compact", whatever custom-style it is given).

The text width (points) comes from filters/settings.lua: the embedded
renderer reads it from the reference document's page.  A table with a
`tbl-colwidths` attribute keeps the widths it was given.  Other formats: no-op.
]]

if FORMAT ~= "docx" then
  return {}
end

local settings = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "settings.lua" }))
local TEXT_WIDTH = 468
local FONT_PT = 8.5
-- the size of a table whose numbers do not fit on one line at FONT_PT (the
-- character style "Table Text Small" of analysis/render/docx.py; the PDF sets
-- such a table at 0.85 of its size too)
local SMALL_PT = 7.5
local SMALL_STYLE = "Table Text Small"
-- average advance of a character, in em: IBM Plex Serif regular / bold (0.50
-- and 0.52 on table text), with margin
local EM_REGULAR = 0.59
local EM_BOLD = 0.64
-- IBM Plex Serif's advances of the characters of numbers, in em (a number's
-- width is estimated from them: "11.8 (11.4, 12.3)" is 7.7 em, not 17 x 0.59)
local EM_NUMBER = {
  [" "] = 0.24, ["."] = 0.28, [","] = 0.28, [":"] = 0.30, [";"] = 0.30,
  ["("] = 0.34, [")"] = 0.34, ["["] = 0.30, ["]"] = 0.30, ["%"] = 0.92,
  ["/"] = 0.40, ["-"] = 0.40, ["\u{2009}"] = 0.20,
}
-- left + right cell margins of the "Table" style (72 twips each,
-- CELL_MARGIN_TWIPS of analysis/render/docx.py) and slack
local PAD_PT = 2 * 72 / 20 + 2
-- a cell's text longer than this many characters wraps anyway
local MAX_LINE = 60
-- no column narrower than this many em of its text, plus the cell margins: a
-- column of one-digit counts (Table S4's "n") was 0.2 in wide, its digits
-- touching the percentages beside them
local MIN_COLUMN_EM = 2.5

local function chars(s)
  return utf8.len(s) or #s
end

-- A cell of numbers ("11.8 (11.4, 12.3)", "5/21 (23.8%)", "14.7 (6.3–NR)"):
-- a digit, at most three letters, short.  It is not to wrap.
local function is_number(text)
  local _, letters = text:gsub("%a", "")
  return text:find("%d") ~= nil and letters <= 3 and chars(text) <= 30
end

-- width of a number in em: digits and signs 0.60, punctuation as EM_NUMBER,
-- anything else at the letters' estimate
local function number_em(text)
  local em = 0
  for _, code in utf8.codes(text) do
    local ch = utf8.char(code)
    if ch:match("%d") or ch == "\u{2013}" or ch == "\u{2212}" or ch == "<" or ch == ">" or ch == "+" or ch == "=" then
      em = em + 0.60
    else
      em = em + (EM_NUMBER[ch] or EM_REGULAR)
    end
  end
  return em
end

local function has_strong(blocks)
  local found = false
  pandoc.Blocks(blocks):walk({
    Strong = function()
      found = true
    end,
  })
  return found
end

-- (narrowest, natural) width of a cell at `font_pt`, in points: the
-- narrowest is its longest word, or all of it for a body cell of numbers
-- when `nowrap`
local function measure(cell, bold, font_pt, nowrap)
  local text = pandoc.utils.stringify(cell.contents)
  local em = (bold or has_strong(cell.contents)) and EM_BOLD or EM_REGULAR
  local word = 0
  for w in text:gmatch("%S+") do
    word = math.max(word, chars(w))
  end
  local narrowest = word * em * font_pt + PAD_PT
  local line = math.max(math.min(chars(text), MAX_LINE), word) * em * font_pt + PAD_PT
  if nowrap and not bold and is_number(text) then
    narrowest = math.max(narrowest, number_em(text) * font_pt * (em / EM_REGULAR) + PAD_PT)
    line = math.max(line, narrowest)
  end
  return narrowest, line
end

-- column fractions of the text width, and whether the narrowest widths fit
local function widths(tbl, font_pt, nowrap)
  local n = #tbl.colspecs
  local min, nat = {}, {}
  for i = 1, n do
    min[i] = MIN_COLUMN_EM * font_pt + PAD_PT
    nat[i] = min[i]
  end
  -- rows of one section; a cell spanning rows keeps its columns busy below
  local function visit(rows, bold)
    local busy = {}
    for _, row in ipairs(rows) do
      local col = 1
      for _, cell in ipairs(row.cells) do
        while (busy[col] or 0) > 0 do
          col = col + 1
        end
        if cell.col_span == 1 and col <= n then
          -- (the stub wraps: its numbers too)
          local w, l = measure(cell, bold, font_pt, nowrap and col > 1)
          min[col] = math.max(min[col], w)
          nat[col] = math.max(nat[col], l)
        end
        for c = col, col + cell.col_span - 1 do
          busy[c] = cell.row_span
        end
        col = col + cell.col_span
      end
      for c, left in pairs(busy) do
        busy[c] = left - 1
      end
    end
  end
  visit(tbl.head.rows, true)
  for _, body in ipairs(tbl.bodies) do
    visit(body.head, false)
    visit(body.body, false)
  end
  visit(tbl.foot.rows, false)

  local sum_min, sum_nat = 0, 0
  for i = 1, n do
    nat[i] = math.max(nat[i], min[i])
    sum_min, sum_nat = sum_min + min[i], sum_nat + nat[i]
  end
  local out = {}
  for i = 1, n do
    if sum_nat <= TEXT_WIDTH then
      -- as wide as its content, as the PDF's (not stretched to the page)
      out[i] = nat[i] / TEXT_WIDTH
    elseif sum_min < TEXT_WIDTH then
      out[i] = (min[i] + (TEXT_WIDTH - sum_min) * (nat[i] - min[i]) / (sum_nat - sum_min)) / TEXT_WIDTH
    else
      out[i] = min[i] / sum_min
    end
  end
  return out, sum_min <= TEXT_WIDTH
end

-- every cell's text in the character style `style`
local function restyle(tbl, style)
  local function cells(rows)
    for _, row in ipairs(rows) do
      for _, cell in ipairs(row.cells) do
        cell.contents = pandoc.Blocks(cell.contents):walk({
          Plain = function(b)
            return pandoc.Plain({ pandoc.Span(b.content, pandoc.Attr("", {}, { ["custom-style"] = style })) })
          end,
          Para = function(b)
            return pandoc.Para({ pandoc.Span(b.content, pandoc.Attr("", {}, { ["custom-style"] = style })) })
          end,
        })
      end
    end
  end
  cells(tbl.head.rows)
  for _, body in ipairs(tbl.bodies) do
    cells(body.head)
    cells(body.body)
  end
  cells(tbl.foot.rows)
end

return {
  {
    Meta = function(meta)
      TEXT_WIDTH = settings.read(meta).docx_width
    end,
  },
  {
    Table = function(tbl)
      if #tbl.colspecs == 0 then
        return nil
      end
      -- numbers right-aligned as in the PDF (great-tables centres them)
      for i, spec in ipairs(tbl.colspecs) do
        if i > 1 and spec[1] == "AlignCenter" then
          tbl.colspecs[i] = { "AlignRight", spec[2] }
        end
      end
      if not tbl.attr.attributes["tbl-colwidths"] then
        -- numbers on one line: at the table size, else smaller, else wrapping
        local fractions, fit = widths(tbl, FONT_PT, true)
        if not fit then
          fractions, fit = widths(tbl, SMALL_PT, true)
          if fit then
            restyle(tbl, SMALL_STYLE)
          else
            fractions = widths(tbl, FONT_PT, false)
          end
        end
        for i, spec in ipairs(tbl.colspecs) do
          tbl.colspecs[i] = { spec[1], fractions[i] }
        end
      end
      return tbl
    end,
  },
}
