--[[ layout.lua — poster column breaks and small print.

Column breaks.  An empty div with class `.column-break` ends the current
poster column; what follows starts at the top of the next one:

    ::: {.column-break}
    :::

With a `poster-columns` attribute ("4", or several: "3 4" / "3,4") the break
applies only when the poster has that many columns (metadata
`poster-columns`, default 4 on landscape pages and 3 on portrait ones), so
one source can hold the breaks of the landscape and of the portrait layout.
Breaks belong at the top level of the document (not inside a list, callout or
other div); one found elsewhere is an error.  Each format:

  * Typst (poster template), a poster without applicable breaks: the body is
    cut into units, each a heading with its lead paragraphs and the first
    figure, table or other block after them, a callout, or one other
    top-level block, handed to `#poster-flow(((start: .., body:
    [..]), ..))` (typst/typst-template.typ), which measures them and balances them over
    the columns (a unit that opens with a heading or is a callout is a
    section start: columns start there when they can, and the slack of a
    column goes into its gaps between sections; a `callout-important`, the key
    findings, is a lead unit, moved to the top of the column it falls in).  A `.poster-optional` div
    is one unit that is left out, last first, when the poster cannot hold
    everything (e.g. a second figure of a section that fits a portrait
    poster but not a landscape one); do not cross-reference into one;
  * Typst (poster template), with breaks: `#poster-colbreak(n)` (typst/typst-template.typ), a
    column break to column n (2 for the first applicable break, ...) that is
    skipped when the flow has already reached column n because an earlier
    column overflowed, so one overflow does not cascade onto a second page;
  * HTML (poster template), without breaks: the units as above, each a
    `<div class="poster-unit">` that the CSS columns keep whole, in one
    `<div class="poster-flow">`;
  * HTML (poster template), with breaks: the body is cut at the breaks into
    `<div class="poster-column">` blocks inside one `<div class="poster-grid">`,
    which css/report.css lays out as a grid of `--poster-columns` columns (a
    style attribute on the grid); a poster without breaks goes into a
    `<div class="poster-flow">` that flows through as many CSS columns;
  * any other template or format (article, DOCX, plain text): dropped.

Small print.  A `.small` div (Bootstrap's class name, which Quarto's HTML
knows) sets its content in smaller type: `#small[...]` from typst/typst-template.typ
in Typst (0.8 em), the class in HTML (css/report.css), unchanged in DOCX.
A div with an id (a `#tbl-`/`#fig-` target) is left alone.

Settings (filters/settings.lua): template, columns, source.  For HTML the
filter also sets the metadata templates/html.template reads: `psma-template`
(the body's class) and, on the poster, `psma-poster-page` (the page's size
and type scale, as analysis/render/layout.py poster_page_style computes it).
]]

local settings = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "settings.lua" }))
local template, columns, source = "article", 0, "document"
local poster_html, poster_typst = false, false

local function is_break(block)
  return block.t == "Div" and block.classes:includes("column-break")
end

-- Does this break apply to a poster of `columns` columns?
local function applies(div)
  local wanted = div.attributes["poster-columns"]
  if wanted == nil then
    return true
  end
  for n in wanted:gmatch("[^,%s]+") do
    if tonumber(n) == nil then
      error("layout.lua: " .. source .. ": poster-columns=\"" .. wanted
        .. "\" on a .column-break is not a list of whole numbers", 0)
    end
    if tonumber(n) == columns then
      return true
    end
  end
  return false
end

local function check_empty(div)
  if #div.content > 0 then
    error("layout.lua: " .. source .. ": a .column-break div must be empty "
      .. "(write ::: {.column-break} and ::: on two lines)", 0)
  end
end

local function nested_break_error()
  error("layout.lua: " .. source .. ": a .column-break must be at the top level of the "
    .. "document, not inside a list, callout or other div", 0)
end


local function is_callout(block)
  if block.t ~= "Div" then
    return false
  end
  for _, class in ipairs(block.classes) do
    if class:match("^callout") then
      return true
    end
  end
  return false
end

-- The poster body as units: for #poster-flow in Typst, as div.poster-unit
-- (kept whole by the CSS columns) in HTML (see the header comment).
local function flow_units(blocks, html)
  local out = pandoc.Blocks({})
  if not html then
    out:insert(pandoc.RawBlock("typst", "#poster-flow(("))
  end
  local i = 1
  while i <= #blocks do
    local block = blocks[i]
    local optional = block.t == "Div" and block.classes:includes("poster-optional")
    local first = optional and block.content[1] or block
    local start = first ~= nil
      and ((first.t == "Header" and first.level <= 2) or is_callout(first))
    if html then
      out:insert(pandoc.RawBlock("html", '<div class="poster-unit">'))
    else
      local lead = first ~= nil and first.t == "Div" and first.classes:includes("callout-important")
      out:insert(pandoc.RawBlock("typst", "(start: " .. tostring(start) .. ", lead: "
        .. tostring(lead) .. ", optional: " .. tostring(optional) .. ", body: ["))
    end
    if optional and not html then
      out:extend(block.content)
    else
      out:insert(block)
    end
    -- raw Typst that opens a bracket (`#small[`) keeps what it encloses
    local depth = 0
    local function track(b)
      if b.t == "RawBlock" and b.format == "typst" then
        if b.text:match("%[%s*$") then
          depth = depth + 1
        elseif b.text:match("^%s*%]%s*$") then
          depth = depth - 1
        end
      end
    end
    track(block)
    -- a heading keeps its lead paragraphs and the first figure, table or
    -- other block after them: no heading without content, no headless figure
    local heading = block.t == "Header"
    while (heading or depth > 0) and i < #blocks do
      local nxt = blocks[i + 1]
      if depth == 0 and (is_callout(nxt) or (nxt.t == "Div" and nxt.classes:includes("poster-optional"))
          or (nxt.t == "Header" and block.t ~= "Header")) then
        break
      end
      i = i + 1
      block = nxt
      track(block)
      out:insert(block)
      if depth == 0 and block.t ~= "Header" and block.t ~= "Para" and block.t ~= "Plain" then
        heading = false
      end
    end
    out:insert(html and pandoc.RawBlock("html", "</div>") or pandoc.RawBlock("typst", "]),"))
    i = i + 1
  end
  if not html then
    out:insert(pandoc.RawBlock("typst", "))"))
  end
  return out
end

return {
  {
    Meta = function(meta)
      local s = settings.read(meta)
      template, columns, source = s.template, s.columns, s.source
      poster_html = template == "poster" and FORMAT:match("html") ~= nil
      poster_typst = template == "poster" and FORMAT == "typst"
      if FORMAT:match("html") then
        -- templates/html.template: the body's class, and the poster's page
        -- (its size and type scale, as the PDF's; css/report.css)
        meta["psma-template"] = template
        if poster_html and s.poster_width then
          local scale = math.min(s.poster_width, s.poster_height) / (36 * 72)
          meta["psma-poster-page"] = string.format(
            "width: %.1fpt; height: %.1fpt; --poster-scale: %.4f",
            s.poster_width, s.poster_height, scale)
        end
        return meta
      end
    end,
  },
  {
    Div = function(div)
      if FORMAT == "typst" and div.classes:includes("small") and div.identifier == "" then
        local blocks = pandoc.Blocks({ pandoc.RawBlock("typst", "#small[") })
        blocks:extend(div.content)
        blocks:insert(pandoc.RawBlock("typst", "]"))
        return blocks
      end
    end,
  },
  {
    Pandoc = function(doc)
      -- breaks nested inside other blocks are errors
      for _, block in ipairs(doc.blocks) do
        if not is_break(block) then
          block:walk({
            Div = function(div)
              if div.classes:includes("column-break") then
                nested_break_error()
              end
            end,
          })
        end
      end

      local chunks = { pandoc.Blocks({}) }
      local column = 1
      local breaks = 0
      local out = pandoc.Blocks({})
      for _, block in ipairs(doc.blocks) do
        if is_break(block) then
          check_empty(block)
          if applies(block) then
            breaks = breaks + 1
            column = column + 1
            if poster_typst then
              out:insert(pandoc.RawBlock("typst", "#poster-colbreak(" .. column .. ")"))
            elseif poster_html then
              table.insert(chunks, pandoc.Blocks({}))
            end
          end
        else
          out:insert(block)
          chunks[#chunks]:insert(block)
        end
      end

      -- raw tags, not pandoc Divs: the HTML writer turns a Div that opens
      -- with a heading into a <section> carrying the heading's id
      local function open(class)
        return pandoc.RawBlock("html", '<div class="' .. class .. '" style="--poster-columns: '
          .. columns .. '">')
      end
      local close = pandoc.RawBlock("html", "</div>")
      if poster_html and #chunks > 1 then
        local blocks = pandoc.Blocks({ open("poster-grid") })
        for _, chunk in ipairs(chunks) do
          blocks:insert(pandoc.RawBlock("html", '<div class="poster-column">'))
          blocks:extend(chunk)
          blocks:insert(close)
        end
        blocks:insert(close)
        doc.blocks = blocks
      elseif poster_html then
        local blocks = pandoc.Blocks({ open("poster-flow") })
        blocks:extend(flow_units(out, true))
        blocks:insert(close)
        doc.blocks = blocks
      elseif poster_typst and breaks == 0 then
        doc.blocks = flow_units(out, false)
      else
        doc.blocks = out
      end
      return doc
    end,
  },
}
