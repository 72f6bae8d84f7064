--[[ docx-tables.lua — tables that fit the page in Word output.

pandoc's docx writer gives a table without column widths an automatic layout
that Word and LibreOffice squeeze column by column, breaking words in the
stub ("Characteri stic").  This filter sizes every table to the text width
(100 %, fixed layout) with columns sized to their content:

* each column gets at least the width of its longest word (bold text and the
  header counted wider), so no word breaks while the table fits;
* the rest of the width goes to the columns in proportion to how much wider
  their longest cell is than their longest word;
* the estimate assumes the cells' paragraph style "Table Text" (Lato 8.5 pt),
  which analysis/render/docx.py gives them after pandoc (pandoc's writer
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
-- average advance of a character, in em: Lato regular / bold, with margin
local EM_REGULAR = 0.55
local EM_BOLD = 0.60
-- left + right cell margins of the "Table" style (108 twips each) and slack
local PAD_PT = 2 * 108 / 20 + 2
-- a cell's text longer than this many characters wraps anyway
local MAX_LINE = 60

local function chars(s)
  return utf8.len(s) or #s
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

-- (longest word, whole text) of a cell, in points
local function measure(cell, bold)
  local text = pandoc.utils.stringify(cell.contents)
  local em = (bold or has_strong(cell.contents)) and EM_BOLD or EM_REGULAR
  local word = 0
  for w in text:gmatch("%S+") do
    word = math.max(word, chars(w))
  end
  local line = math.min(chars(text), MAX_LINE)
  return word * em * FONT_PT + PAD_PT, math.max(line, word) * em * FONT_PT + PAD_PT
end

local function widths(tbl)
  local n = #tbl.colspecs
  local min, nat = {}, {}
  for i = 1, n do
    min[i], nat[i] = PAD_PT, PAD_PT
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
          local w, l = measure(cell, bold)
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
      out[i] = nat[i] / sum_nat
    elseif sum_min < TEXT_WIDTH then
      out[i] = (min[i] + (TEXT_WIDTH - sum_min) * (nat[i] - min[i]) / (sum_nat - sum_min)) / TEXT_WIDTH
    else
      out[i] = min[i] / sum_min
    end
  end
  return out
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
      if not tbl.attr.attributes["tbl-colwidths"] then
        local fractions = widths(tbl)
        for i, spec in ipairs(tbl.colspecs) do
          tbl.colspecs[i] = { spec[1], fractions[i] }
        end
      end
      return tbl
    end,
  },
}
