--[[ gt-tables.lua — raw HTML tables (great-tables fragments) per format.

HTML output: the fragment stays raw HTML (a radionuclide's mass number made
superscript in its text, as filters/typography.lua does elsewhere: "¹⁷⁷Lu"),
but its <style> is made safe for a
page holding several tables: every rule is scoped to the fragment's id as
`:where(#id) ...` (great-tables emits a few bare rules such as
` tr { background-color: transparent; }` that would restyle the whole page;
`:where` adds no weight, so css/report.css, which sets the tables in the PDF's
style, overrides great-tables' look), and @import / remote @font-face rules
are dropped (no network loads).

Typst and DOCX output: the fragment becomes a native pandoc table via
pandoc.read(html, "html") (as Quarto >= 1.4 does), then:
  * great-tables' title/subtitle rows (thead rows of class gt_heading) are
    removed and become the table caption ("Title. Subtitle");
  * tfoot rows (source notes, footnotes) are removed and become a small
    paragraph after the table (a `.table-notes` div);
  * footnote marks (span.gt_footnote_marks) become superscripts;
  * column alignment comes from the cells' gt_left/gt_center/gt_right
    classes; column spanners are centred; row-group headings set in bold;
  * ids and the wrapper div are dropped (the crossref filter puts the
    `#tbl-...` id on the table).
In the article's Typst (not the poster's) the table and its notes are the
body of one `#article-float[...]`, so that they float (or break) together.
Raw HTML that holds no <table>, or holds a <script> (interactive figures),
is left alone (and dropped by the typst and docx writers, like any raw HTML).

Which notes are kept is the metadata key `table-notes` (validated by
analysis/render/layout.py; filters/settings.lua): `all`
(default), `footnotes` (source notes dropped; the poster's default) or
`none`.  In HTML the dropped rows are removed from the fragment's <tfoot>.
]]

local settings = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "settings.lua" }))
local nuclides = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "nuclides.lua" }))
local notes_mode, template, in_quarto = "all", "article", false

-- Is a tfoot row (class gt_footnotes / gt_sourcenotes) kept under notes_mode?
local function keep_note_class(classes)
  if notes_mode == "none" then
    return false
  elseif notes_mode == "footnotes" then
    return not classes:match("gt_sourcenotes")
  end
  return true
end

-- HTML: drop the tfoot rows notes_mode leaves out (and an emptied tfoot).
local function filter_html_notes(html)
  if notes_mode == "all" then
    return html
  end
  html = html:gsub('<tr class="([^"]*)">.-</tr>%s*', function(classes)
    if (classes:match("gt_sourcenotes") or classes:match("gt_footnotes"))
        and not keep_note_class(classes) then
      return ""
    end
    return nil
  end)
  return (html:gsub("<tfoot>%s*</tfoot>", ""))
end

local stringify = pandoc.utils.stringify

-- CSS scoping (HTML output) ---------------------------------------------------

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function matching_brace(css, open)
  local depth = 0
  for i = open, #css do
    local c = css:sub(i, i)
    if c == "{" then
      depth = depth + 1
    elseif c == "}" then
      depth = depth - 1
      if depth == 0 then
        return i
      end
    end
  end
  return #css
end

-- `sel` scoped to the fragment `id`, as ":where(#id) sel": the rules reach
-- the fragment only, with no more weight than their own selectors, so that
-- the document's stylesheet (css/report.css: the PDF's table style) wins
local function scope_selector(sel, id)
  sel = trim(sel)
  if sel == "" then
    return sel
  end
  local scope = ":where(#" .. id .. ")"
  local own = "#" .. id
  if sel:sub(1, #own) == own then
    local after = sel:sub(#own + 1, #own + 1)
    if after == "" or after:match("[%s%.%:%[>+~,]") then
      return scope .. sel:sub(#own + 1)
    end
  end
  if sel == "html" or sel == "body" or sel == ":root" then
    return scope
  end
  return scope .. " " .. sel
end

local function scope_css(css, id)
  css = css:gsub("/%*.-%*/", "")
  local out = {}
  local i = 1
  while true do
    local s = css:find("%S", i)
    if not s then
      break
    end
    local brace = css:find("{", s, true)
    if css:sub(s, s) == "@" then
      local semi = css:find(";", s, true)
      if semi and (not brace or semi < brace) then
        -- statement at-rule: keep @charset/@namespace, drop @import (network)
        local stmt = css:sub(s, semi)
        if not stmt:match("^@import") then
          table.insert(out, stmt)
        end
        i = semi + 1
      elseif brace then
        local close = matching_brace(css, brace)
        local prelude = trim(css:sub(s, brace - 1))
        local inner = css:sub(brace + 1, close - 1)
        if prelude:match("^@media") or prelude:match("^@supports") then
          table.insert(out, prelude .. " {\n" .. scope_css(inner, id) .. "}")
        elseif prelude:match("^@font%-face") and inner:match("url%(%s*['\"]?https?:") then
          -- remote font: dropped
        else
          table.insert(out, prelude .. " {" .. inner .. "}")
        end
        i = close + 1
      else
        break
      end
    else
      if not brace then
        break
      end
      local close = matching_brace(css, brace)
      local selectors = {}
      for sel in (css:sub(s, brace - 1) .. ","):gmatch("([^,]*),") do
        if trim(sel) ~= "" then
          table.insert(selectors, scope_selector(sel, id))
        end
      end
      table.insert(out, table.concat(selectors, ", ") .. " {" .. css:sub(brace + 1, close - 1) .. "}")
      i = close + 1
    end
  end
  return table.concat(out, "\n") .. "\n"
end

local function scope_fragment(html)
  local id = html:match("^%s*<div[^>]-%sid=\"([^\"]+)\"")
  if not id then
    return html
  end
  return (html:gsub("(<style[^>]*>)(.-)(</style>)", function(open, css, close)
    return open .. "\n" .. scope_css(css, id) .. close
  end))
end

-- HTML: a level row's stub (great-tables indents it with no-break spaces, which
-- a browser keeps on the first line only: a label that wraps lost its indent)
-- gets the class psma-level instead, which css/report.css pads by 1 em on
-- every line, as the PDF's stub padding and Word's paragraph indent.
local NBSP = "\u{A0}"
local function indent_levels(html)
  return (html:gsub('(<th[^>]-class="[^"]*gt_stub[^"]*"[^>]*>)([^<]*)', function(tag, text)
    if text:sub(1, #NBSP) ~= NBSP then
      return nil
    end
    local rest = text
    while rest:sub(1, #NBSP) == NBSP or rest:sub(1, 1) == " " do
      rest = rest:sub(rest:sub(1, 1) == " " and 2 or #NBSP + 1)
    end
    return tag:gsub('class="', 'class="psma-level ', 1) .. rest
  end))
end

-- HTML table -> native table (typst, docx) ------------------------------------

local function has_class(el, class)
  return el.attr and el.attr.classes:includes(class)
end

local function cell_inlines(cell)
  return pandoc.utils.blocks_to_inlines(cell.contents)
end

local function superscript_marks(el)
  return el:walk({
    Span = function(span)
      if span.classes:includes("gt_footnote_marks") then
        return pandoc.Superscript(span.content)
      end
      if span.classes:includes("gt_from_md") then
        return span.content
      end
      return nil
    end,
  })
end

local function clear_attr(el)
  el.attr = pandoc.Attr("", el.attr.classes, {})
end

local ALIGN = { gt_left = "AlignLeft", gt_center = "AlignCenter", gt_right = "AlignRight" }

local function convert_table(tbl)
  -- title / subtitle rows -> caption
  local heading = pandoc.Inlines({})
  local kept = pandoc.List({})
  for _, row in ipairs(tbl.head.rows) do
    local title_row = has_class(row, "gt_heading")
    for _, cell in ipairs(row.cells) do
      if has_class(cell, "gt_title") or has_class(cell, "gt_subtitle") then
        title_row = true
      end
    end
    if title_row then
      for _, cell in ipairs(row.cells) do
        local text = cell_inlines(cell)
        if #text > 0 then
          if #heading > 0 then
            local last = stringify(heading)
            if not last:match("[%.%!%?%:]$") then
              heading:insert(pandoc.Str("."))
            end
            heading:insert(pandoc.Space())
          end
          heading:extend(text)
        end
      end
    else
      kept:insert(row)
    end
  end
  tbl.head.rows = kept
  if #heading > 0 then
    local existing = tbl.caption.long
    if #existing > 0 then
      heading = pandoc.utils.blocks_to_inlines(existing) .. { pandoc.Str("."), pandoc.Space() } .. heading
    end
    tbl.caption = pandoc.Caption({ pandoc.Plain(heading) })
  end

  -- tfoot rows -> notes paragraph
  local notes = pandoc.Inlines({})
  for _, row in ipairs(tbl.foot.rows) do
    local classes = table.concat(row.attr.classes, " ")
    local cells = keep_note_class(classes) and row.cells or {}
    for _, cell in ipairs(cells) do
      local text = cell_inlines(cell)
      if #text > 0 then
        if #notes > 0 then
          notes:insert(pandoc.LineBreak())
        end
        notes:extend(text)
      end
    end
  end
  tbl.foot.rows = {}

  -- alignment from the first body row's classes
  local body = tbl.bodies[1]
  if body then
    for _, row in ipairs(body.body) do
      if #row.cells == #tbl.colspecs then
        for i, cell in ipairs(row.cells) do
          for class, align in pairs(ALIGN) do
            if has_class(cell, class) then
              tbl.colspecs[i] = { align, tbl.colspecs[i][2] }
            end
          end
        end
        break
      end
    end
  end

  -- row-group headings bold; drop ids and html attributes
  local function tidy_rows(rows)
    for _, row in ipairs(rows) do
      local group = has_class(row, "gt_group_heading_row")
      for _, cell in ipairs(row.cells) do
        if group or has_class(cell, "gt_group_heading") then
          cell.contents = { pandoc.Plain({ pandoc.Strong(cell_inlines(cell)) }) }
        end
        clear_attr(cell)
      end
      clear_attr(row)
    end
  end
  for _, b in ipairs(tbl.bodies) do
    tidy_rows(b.head) -- a group heading row opening a tbody lands here
    tidy_rows(b.body)
  end
  for _, row in ipairs(tbl.head.rows) do
    for _, cell in ipairs(row.cells) do
      if cell.col_span > 1 then
        cell.alignment = "AlignCenter" -- column spanner
      end
      clear_attr(cell)
    end
    clear_attr(row)
  end
  tbl.attr = pandoc.Attr("", {}, {})
  tbl = superscript_marks(tbl)

  local out = pandoc.Blocks({ tbl })
  -- article PDF: the table and its notes as one float (typst-template.typ article-float)
  -- (under Quarto the table is inside Quarto's float figure, which
  -- typst-template.typ floats as a whole)
  local float = FORMAT == "typst" and template == "article" and not in_quarto
  if float then
    out:insert(1, pandoc.RawBlock("typst", "#article-float["))
  end
  if #notes > 0 then
    notes = superscript_marks(pandoc.Plain(notes)).content
    if FORMAT == "typst" then
      out:insert(pandoc.RawBlock("typst", "#table-notes["))
      out:insert(pandoc.Plain(notes))
      out:insert(pandoc.RawBlock("typst", "]"))
    elseif FORMAT == "docx" then
      out:insert(pandoc.Div({ pandoc.Para(notes) }, pandoc.Attr("", { "table-notes" }, { ["custom-style"] = "Footnote Text" })))
    else
      out:insert(pandoc.Div({ pandoc.Para(notes) }, pandoc.Attr("", { "table-notes" })))
    end
  end
  if float then
    out:insert(pandoc.RawBlock("typst", "]"))
  end
  return out
end

-- Flatten what pandoc.read made of a fragment: keep tables (converted) and
-- real content, drop <style>/<script> raw bits and wrapper divs.  The
-- fragment's <style> (great-tables' CSS, 40% of the supplement's table HTML,
-- which would become raw HTML and be dropped) is cut before the HTML reader:
-- it had taken half of the reader's time.
local function native_blocks(html)
  local doc = pandoc.read((html:gsub("<style[^>]*>.-</style>", "")), "html")
  local out = pandoc.Blocks({})
  local function visit(blocks)
    for _, b in ipairs(blocks) do
      if b.t == "Table" then
        out:extend(convert_table(b))
      elseif b.t == "Div" then
        visit(b.content)
      elseif b.t == "Plain" or b.t == "Para" then
        local only_raw = true
        for _, il in ipairs(b.content) do
          if il.t ~= "RawInline" and il.t ~= "Space" and il.t ~= "SoftBreak" and il.t ~= "LineBreak" then
            only_raw = false
          end
        end
        if not only_raw then
          out:insert(b)
        end
      elseif b.t ~= "RawBlock" then
        out:insert(b)
      end
    end
  end
  visit(doc.blocks)
  return out
end

return {
  {
    Meta = function(meta)
      local s = settings.read(meta)
      notes_mode, template, in_quarto = s.table_notes, s.template, s.quarto
    end,
  },
  {
    RawBlock = function(el)
      -- a table fragment: holds <table> and no script (an interactive Vega
      -- figure's embedded runtime mentions "<table" inside its JavaScript)
      if not el.format:match("^html") or not el.text:find("<table", 1, true)
          or el.text:find("<script", 1, true) then
        return nil
      end
      if FORMAT:match("html") then
        el.text = nuclides.superscript_html(scope_fragment(indent_levels(filter_html_notes(el.text))))
        return el
      end
      return native_blocks(el.text)
    end,
  },
}
