--[[ crossref.lua — number figures and tables; resolve @fig-x / @tbl-x.

Targets (Quarto syntax), numbered separately in document order:
  * figure: an image with a caption and an id, ![Caption](x.svg){#fig-x},
    or a div ::: {#fig-x} holding content with the caption as its last
    paragraph;
  * table:  a div ::: {#tbl-x} holding a table (native, or raw HTML such as a
    great-tables fragment) with the caption as its last paragraph, or a pipe
    table with a caption line `: Caption {#tbl-x}`.

Captions become "Figure n: caption" / "Table n: caption" (the label part in
a `.crossref-label` span).  A native table's caption is the div caption; a
caption the table already had (great-tables' title) is used when the div
has none or when it starts with the div's caption (title and subtitle);
otherwise the div's caption alone (HTML hides the title row under it: one
caption in every format).  In HTML, a raw HTML table goes in a
`div.table-float#tbl-x` with the caption paragraph above it.

Metadata `crossref` (document front matter or _quarto.yml): Quarto's
`fig-title`, `tbl-title` (caption words), `fig-prefix`, `tbl-prefix`
(reference words) and `title-delim`, and our top-level `number-prefix` ("S":
Figure S1, Table S1, in captions and references; under Quarto, which numbers
the floats itself, filters/number-prefix.lua adds it).

References: a citation whose keys all start with fig- or tbl- becomes
"Figure n"/"Table n" (several: "Figures 1 and 2"), a link to the target;
-@fig-x gives the bare number.  An unknown fig-/tbl- key or a duplicate id
is an error naming the key and the document ($PSMA_RENDER_SOURCE).

The poster in Typst is numbered by Typst, as Quarto's is: its columns
(typst/typst-template.typ poster-flow) leave out `.poster-optional` units
that do not fit, so numbers given here, before that choice, ran 1, 4, 5, 6
on a portrait poster.  There captions keep no label (the poster's caption
rule writes Typst's "Figure 1: "), a show rule at the top of the body numbers
the figures and tables (supplement from fig-title/tbl-title, number-prefix,
title-delim), and references are Typst's `ref(label("fig-x"), supplement:
"Figure")` (in a `link`, which the poster colours), which name only what was
placed (filters/layout.lua refuses a reference into a `.poster-optional`
div).  The kind is Typst's: a `::: {#fig-x}` div holding a table would be
numbered as a table there.
]]

local settings = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "settings.lua" }))
local source = os.getenv("PSMA_RENDER_SOURCE") or "document"
local stringify = pandoc.utils.stringify
-- the poster in Typst: Typst numbers its floats (see the header)
local typst_numbers = false

local KINDS = {
  fig = { name = "Figure", plural = "Figures", title = "Figure" },
  tbl = { name = "Table", plural = "Tables", title = "Table" },
}
local numbers = {} -- id -> number
local counters = { fig = 0, tbl = 0 }

-- Set from the metadata key `crossref` (see configure): what goes before
-- every number ("S" gives Table S1), and the caption's delimiter.
local number_prefix = ""
local title_delim = ":"

-- Quarto's crossref options: `fig-title` / `tbl-title` (the caption's word),
-- `fig-prefix` / `tbl-prefix` (the reference's word; its plural adds "s"),
-- `title-delim`; and ours, the top-level key `number-prefix` (outside
-- `crossref`, which Quarto validates; typst-template.typ numbers Quarto's
-- Typst floats with it too).
local function configure(meta)
  typst_numbers = FORMAT == "typst" and settings.read(meta).template == "poster"
  if meta["number-prefix"] ~= nil then
    number_prefix = stringify(meta["number-prefix"])
  end
  local cr = meta.crossref
  if type(cr) ~= "table" then
    return
  end
  local function text(key)
    local v = cr[key]
    if v == nil then
      return nil
    end
    return stringify(v)
  end
  for k, kind in pairs(KINDS) do
    local title, prefix = text(k .. "-title"), text(k .. "-prefix")
    if title then
      kind.title = title
    end
    if prefix then
      kind.name = prefix
      kind.plural = prefix .. "s"
    end
  end
  title_delim = text("title-delim") or title_delim
end

local function number_text(id)
  return number_prefix .. numbers[id]
end


local function kind_of(id)
  local k = id:match("^(%a+)%-")
  if k and KINDS[k] then
    return k
  end
  return nil
end

local function register(id)
  local k = kind_of(id)
  if not k then
    return
  end
  if numbers[id] then
    error("crossref.lua: " .. source .. ": duplicate id #" .. id, 0)
  end
  counters[k] = counters[k] + 1
  numbers[id] = counters[k]
end

-- Last block a paragraph -> (caption inlines, other blocks)
local function split_caption(blocks)
  local last = blocks[#blocks]
  if last and (last.t == "Para" or last.t == "Plain") then
    local rest = pandoc.Blocks({})
    for i = 1, #blocks - 1 do
      rest:insert(blocks[i])
    end
    return last.content, rest
  end
  return pandoc.Inlines({}), blocks
end

local function labelled(id, caption)
  if typst_numbers then
    return caption
  end
  local k = kind_of(id)
  local label = KINDS[k].title .. " " .. number_text(id) .. (#caption > 0 and title_delim or "")
  local out = pandoc.Inlines({ pandoc.Span(pandoc.Inlines(label), pandoc.Attr("", { "crossref-label" })) })
  if #caption > 0 then
    out:insert(pandoc.Space())
    out:extend(caption)
  end
  return out
end

local function first_table(blocks)
  for i, b in ipairs(blocks) do
    if b.t == "Table" then
      return i, b
    end
  end
  return nil
end

-- The caption of a table: the div's own caption when it has one (the
-- document's caption, as in HTML, where the great-tables title row is hidden
-- under it), else the caption the table brought (great-tables' title); the
-- table's when it starts with the div's and a sentence follows (a title and
-- its subtitle).  A title that is the div's caption without its full stop
-- gives the div's ("PSA response.", as under Quarto; the Typst caption had
-- lost the full stop).  Appending both printed one caption twice
-- ("Baseline characteristics ... . Baseline characteristics ...").  A title
-- that only begins with the div's words is another caption: the poster's
-- "Baseline characteristics." stays so (as under Quarto, which takes the
-- div's), not the title "Baseline characteristics by PSA50 response" of the
-- table it shares with the supplement.
local function merge_captions(div_caption, table_caption)
  if #table_caption == 0 then
    return div_caption
  end
  if #div_caption == 0 then
    return table_caption
  end
  local d, t = stringify(div_caption), stringify(table_caption)
  local stem = d:gsub("[%s%.]+$", "") -- "PSA response." and a title "PSA response. Subtitle"
  if t:sub(1, #stem) == stem and #t > #stem and t:sub(#stem + 1):match("^[%.%:%!%?]") then
    return table_caption
  end
  return div_caption
end

local function table_div(div)
  local id = div.identifier
  local caption, rest = split_caption(div.content)
  local i, tbl = first_table(rest)
  if tbl then
    local own = pandoc.utils.blocks_to_inlines(tbl.caption.long)
    tbl.caption = pandoc.Caption({ pandoc.Plain(labelled(id, merge_captions(caption, own))) })
    tbl.identifier = id
    rest[i] = tbl
    return rest
  end
  local cap = pandoc.Div({ pandoc.Para(labelled(id, caption)) }, pandoc.Attr("", { "table-caption" }))
  local content = pandoc.Blocks({ cap })
  content:extend(rest)
  return pandoc.Div(content, pandoc.Attr(id, { "table-float" }))
end

local function figure_div(div)
  local caption, rest = split_caption(div.content)
  return pandoc.Figure(rest, pandoc.Caption({ pandoc.Plain(labelled(div.identifier, caption)) }),
    pandoc.Attr(div.identifier, div.classes, div.attributes))
end

-- A figure or table of cross-reference kind `kind`: its caption labelled.
local function relabel(el, kind)
  if kind_of(el.identifier) ~= kind then
    return nil
  end
  local caption = pandoc.utils.blocks_to_inlines(el.caption.long)
  el.caption = pandoc.Caption({ pandoc.Plain(labelled(el.identifier, caption)) })
  return el
end

local transform = {
  Figure = function(fig)
    return relabel(fig, "fig")
  end,
  Table = function(tbl)
    return relabel(tbl, "tbl")
  end,
  Div = function(div)
    local k = kind_of(div.identifier)
    if k == "tbl" then
      return table_div(div)
    elseif k == "fig" then
      return figure_div(div)
    end
    return nil
  end,
}

-- A Typst string literal of `s`.
local function typst_string(s)
  return '"' .. s:gsub("\\", "\\\\"):gsub('"', '\\"') .. '"'
end

-- Typst's reference to `id` (its number, after `supplement` unless nil), in
-- a link to it as the other references are (the poster's `show link` colours
-- links; a ref is not one).
local function typst_ref(id, supplement)
  local target = "label(" .. typst_string(id) .. ")"
  return pandoc.RawInline("typst", "#link(" .. target .. ", ref(" .. target .. ", supplement: "
    .. (supplement and typst_string(supplement) or "none") .. "));")
end

-- The show rules that number the poster's figures and tables in Typst.
local function typst_numbering()
  local numbering = '"1"'
  if number_prefix ~= "" then
    numbering = "n => " .. typst_string(number_prefix) .. " + str(n)"
  end
  local lines = {}
  for _, pair in ipairs({ { "image", KINDS.fig.title }, { "table", KINDS.tbl.title } }) do
    table.insert(lines, "#show figure.where(kind: " .. pair[1] .. "): set figure(numbering: "
      .. numbering .. ", supplement: " .. typst_string(pair[2]) .. ")")
  end
  table.insert(lines, "#set figure.caption(separator: " .. typst_string(title_delim .. " ") .. ")")
  return pandoc.RawBlock("typst", table.concat(lines, "\n"))
end

local function reference_text(cite)
  local ids = {}
  for _, c in ipairs(cite.citations) do
    local k = kind_of(c.id)
    if not k then
      return nil
    end
    if not numbers[c.id] then
      error("crossref.lua: " .. source .. ": unknown cross-reference @" .. c.id
        .. " (no figure or table with id #" .. c.id .. ")", 0)
    end
    table.insert(ids, c)
  end
  local out = pandoc.Inlines({})
  local first = ids[1]
  if first.prefix and #first.prefix > 0 then
    out:extend(first.prefix)
    out:insert(pandoc.Space())
  end
  local same_kind = true
  for _, c in ipairs(ids) do
    if kind_of(c.id) ~= kind_of(first.id) then
      same_kind = false
    end
  end
  local parts = {}
  for n, c in ipairs(ids) do
    local k = KINDS[kind_of(c.id)]
    local text
    if c.mode == "SuppressAuthor" or (same_kind and n > 1) then
      text = number_text(c.id)
    elseif same_kind and #ids > 1 then
      text = k.plural .. " " .. number_text(c.id)
    else
      text = k.name .. " " .. number_text(c.id)
    end
    local part
    if typst_numbers then
      -- "Figure 1" as Quarto writes it (the link holds the word); the word of
      -- "Figures 1 and 2" before the first number
      local word = text:sub(1, #text - #number_text(c.id))
      if word == k.name .. " " then
        part = pandoc.Inlines({ typst_ref(c.id, k.name) })
      else
        part = pandoc.Inlines(word)
        part:insert(typst_ref(c.id, nil))
      end
    else
      part = pandoc.Inlines({ pandoc.Link(pandoc.Inlines(text), "#" .. c.id) })
    end
    if c.suffix and #c.suffix > 0 then
      part:extend(c.suffix)
    end
    table.insert(parts, part)
  end
  for n, part in ipairs(parts) do
    if n > 1 then
      if #parts > 2 then
        out:insert(pandoc.Str(","))
      end
      out:insert(pandoc.Space())
      if n == #parts then
        out:extend({ pandoc.Str("and"), pandoc.Space() })
      end
    end
    out:extend(part)
  end
  return out
end

return {
  {
    Pandoc = function(doc)
      configure(doc.meta)
      -- pass 1: number targets in document order
      doc.blocks:walk({
        traverse = "topdown",
        Div = function(div)
          register(div.identifier)
        end,
        Figure = function(fig)
          register(fig.identifier)
        end,
        Table = function(tbl)
          register(tbl.identifier)
        end,
      })
      -- pass 2: captions; pass 3: references
      doc = doc:walk(transform)
      doc = doc:walk({ Cite = reference_text })
      if typst_numbers then
        doc.blocks:insert(1, typst_numbering())
      end
      return doc
    end,
  },
}
