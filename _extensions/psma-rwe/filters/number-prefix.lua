--[[ number-prefix.lua — `number-prefix` in Quarto's HTML and Word numbers.

Option (document front matter or _quarto.yml, top level):

  number-prefix: "S"   tables and figures are numbered Table S1, Figure S1,
                       ... in their captions and in @tbl-/@fig- references
                       (default: none, Table 1)

Quarto only: `_extension.yml` runs this filter `at: post-render`, after
Quarto has numbered the floats, resolved the references and written both as
text.  The embedded renderer does not run it (analysis/render/pipeline.py's
FILTERS): its filters/crossref.lua writes the prefix itself, and Quarto's
Typst floats are numbered by Typst (typst/typst-template.typ).  So all three
formats say "Table S1" under either renderer.

Quarto's own options have no prefix: `labels` (arabic, roman, alpha x) sets
the number's style, a title (`tbl-title: "Table S"`) gets a space before the
number, and a custom float kind with `space-before-numbering: false` needs
ids of its own key (#stbl-x, @stbl-x).  So the prefix goes in after Quarto
has written the numbers, in two places, and nowhere else:

  * a reference: a Link of class `quarto-xref` to #tbl-x or #fig-x (Quarto's
    "Table", no-break space, number; `-@tbl-x` the number alone): the last
    Str of digits becomes prefix .. digits;
  * a caption: in the float, the Div with id tbl-x or fig-x, the first
    paragraph that starts with the caption's title (crossref `tbl-title` /
    `fig-title`, default Table / Figure), a no-break space and a number
    (Quarto's "Table 1: ..."; in Word after the paragraph's style): that
    number.

Formats: HTML and DOCX (the documents' other format, Typst, has its numbers
from Typst).  Without `number-prefix`, or when no number is found where
Quarto writes it, the numbers are left as they are.

In HTML (with or without a prefix) the caption's label, "Table S1:" (title,
no-break space, number and the delimiter after it), goes in a
`span.crossref-label`, as filters/crossref.lua writes it for the embedded
renderer, so css/report.css sets it alike (bold) under both renderers.
]]

local stringify = pandoc.utils.stringify

local NBSP = "\u{a0}"
local TITLES = { fig = "Figure", tbl = "Table" }

local prefix = ""
local titles = {}

local function kind_of(id)
  local k = (id or ""):match("^(%a+)%-")
  if k and TITLES[k] then
    return k
  end
  return nil
end

local function configure(meta)
  if meta["number-prefix"] ~= nil then
    prefix = stringify(meta["number-prefix"])
  end
  local cr = type(meta.crossref) == "table" and meta.crossref or {}
  for k, default in pairs(TITLES) do
    titles[k] = cr[k .. "-title"] ~= nil and stringify(cr[k .. "-title"]) or default
  end
end

local function is_number(el)
  return el ~= nil and el.t == "Str" and el.text:match("^%d+$") ~= nil
end

-- A reference: its last number gets the prefix.
local function reference(link)
  if not link.classes:includes("quarto-xref") or not kind_of(link.target:match("^#(.*)$")) then
    return nil
  end
  for i = #link.content, 1, -1 do
    if is_number(link.content[i]) then
      link.content[i] = pandoc.Str(prefix .. link.content[i].text)
      return link
    end
  end
  return nil
end

-- The caption's number in a paragraph `inlines` that opens with `title`, a
-- no-break space and a number (raw inlines before them skipped): its index.
local function caption_number(inlines, title)
  local words = pandoc.Inlines({})
  for i, el in ipairs(inlines) do
    if el.t == "Str" and el.text == NBSP then
      if stringify(words) == title and is_number(inlines[i + 1]) then
        return i + 1
      end
      return nil
    elseif el.t == "Str" or el.t == "Space" then
      words:insert(el)
    elseif el.t ~= "RawInline" or #words > 0 then
      return nil
    end
  end
  return nil
end

-- The caption's label in `inlines`, whose number is at `i`: the title's
-- first word to the number, and the delimiter after it (":", "."), in a
-- span.crossref-label.
local function label_span(inlines, i)
  local first = 1
  while inlines[first].t == "RawInline" do
    first = first + 1
  end
  local last = i
  local after = inlines[i + 1]
  if after and after.t == "Str" and after.text:match("^[^%w]+$") then
    last = i + 1
  end
  local label = pandoc.Inlines({})
  for j = first, last do
    label:insert(inlines[j])
  end
  local out = pandoc.Inlines({})
  for j = 1, first - 1 do
    out:insert(inlines[j])
  end
  out:insert(pandoc.Span(label, pandoc.Attr("", { "crossref-label" })))
  for j = last + 1, #inlines do
    out:insert(inlines[j])
  end
  return out
end

-- A float: the first caption paragraph in it gets the prefix (and in HTML
-- its label the span).
local function float(div)
  local k = kind_of(div.identifier)
  if not k then
    return nil
  end
  local done = false
  local function para(p)
    if done then
      return nil
    end
    local i = caption_number(p.content, titles[k])
    if i then
      p.content[i] = pandoc.Str(prefix .. p.content[i].text)
      if FORMAT:match("html") then
        p.content = label_span(p.content, i)
      end
      done = true
      return p
    end
    return nil
  end
  div.content = div.content:walk({ Para = para, Plain = para })
  return div
end

if not (FORMAT:match("html") or FORMAT == "docx") then
  return {}
end

return {
  {
    Pandoc = function(doc)
      configure(doc.meta)
      if prefix == "" then
        if FORMAT:match("html") then
          return doc:walk({ Div = float }) -- the labels' spans
        end
        return nil
      end
      return doc:walk({ Div = float, Link = reference })
    end,
  },
}
