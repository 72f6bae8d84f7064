--[[ citations.lua — citations without references, and citations in number order.

A document without references (metadata `show-references: false`): a
conference abstract may have none (ASCO's have none).  With
`show-references: false` (or "false") the citations to sources, [@key], are
dropped together with the space before them, and no reference list is made
(the renderer then runs no citeproc; analysis/render/pipeline.py).
Cross-references (@fig-x, @tbl-x) were resolved by crossref.lua before.

Citations in number order: where the document's `csl` collapses citation
numbers (`<citation collapse="citation-number">`, as the project's styles
report/psma-rwe.csl and psma-rwe-poster.csl do), the items of each citation
are put in the order of their first citation in the document, which is the
order of their numbers: [@new; @old] prints as "2,5", not "5,2", and runs
collapse ("1-3").  CSL says the same with
`<sort><key variable="citation-number"/></sort>` in the style's citation,
but pandoc's citeproc then starts a Unicode collator, about 65 ms in each
render of a document with a citation of two or more items; the project's
styles have no such sort, and this filter does its work.  citeproc numbers
the items in the order it meets them (the metadata's citations first, then
the body's), so the reordered citations keep the numbers they had.  A style
that has the sort gets the same result; a style that does not collapse
citation numbers (an author-date one) keeps the citations as written.
tests/render/test_citations.py renders cases with and without the sort.

Otherwise pandoc's citeproc formats the citations with the document's `csl`.
]]

local function off(meta)
  local v = meta["show-references"]
  if v == nil then
    return false
  end
  if type(v) == "boolean" then
    return not v
  end
  local s = pandoc.utils.stringify(v):lower()
  return s == "false" or s == "no" or s == ""
end

-- show-references: false: the citations and the reference list dropped.
local function drop_citations(doc)
  doc.meta.bibliography = nil
  return doc:walk({
    Inlines = function(inlines)
      local out = pandoc.Inlines({})
      for _, il in ipairs(inlines) do
        if il.t == "Cite" then
          if #out > 0 and out[#out].t == "Space" then
            out:remove(#out)
          end
        else
          out:insert(il)
        end
      end
      return out
    end,
    Div = function(div)
      if div.identifier == "refs" then
        return {}
      end
    end,
  })
end

-- Does the document's style collapse citation numbers?  Its `csl` is read as
-- pandoc finds it: as given, else in the resource path.
local function collapses_numbers(meta)
  if meta.csl == nil then
    return false
  end
  local name = pandoc.utils.stringify(meta.csl)
  local candidates = { name }
  if not pandoc.path.is_absolute(name) then
    for _, dir in ipairs(PANDOC_STATE.resource_path or {}) do
      table.insert(candidates, pandoc.path.join({ dir, name }))
    end
  end
  for _, path in ipairs(candidates) do
    local f = io.open(path, "r")
    if f then
      local text = f:read("a")
      f:close()
      local tag = text:match("<citation[%s>][^>]*") or ""
      return tag:match("collapse%s*=%s*[\"']citation%-number[\"']") ~= nil
    end
  end
  return false
end

-- Each item's rank, the order in which citeproc first meets it (the metadata's
-- fields by name, as pandoc keeps them, but `nocite`; then the body).
local function first_citations(doc)
  local rank, n, grouped = {}, 0, false
  local filter = {
    Cite = function(cite)
      grouped = grouped or #cite.citations > 1
      for _, c in ipairs(cite.citations) do
        if rank[c.id] == nil then
          n = n + 1
          rank[c.id] = n
        end
      end
    end,
  }
  local function visit(value)
    local kind = pandoc.utils.type(value)
    if kind == "Inlines" or kind == "Blocks" then
      value:walk(filter)
    elseif kind == "List" then
      for _, v in ipairs(value) do
        visit(v)
      end
    elseif kind == "table" then
      local keys = {}
      for key in pairs(value) do
        table.insert(keys, key)
      end
      table.sort(keys)
      for _, key in ipairs(keys) do
        visit(value[key])
      end
    end
  end
  local keys = {}
  for key in pairs(doc.meta) do
    if key ~= "nocite" then
      table.insert(keys, key)
    end
  end
  table.sort(keys)
  for _, key in ipairs(keys) do
    visit(doc.meta[key])
  end
  doc.blocks:walk(filter)
  return rank, grouped
end

-- Locator labels of pandoc's English locale, long and short ("p. 3", "chap. 2").
local LABELS = {
  "book", "bk.", "chapter", "chap.", "column", "col.", "figure", "fig.", "folio", "fol.",
  "number", "no.", "line", "l.", "note", "n.", "opus", "op.", "page", "p.", "pages", "pp.",
  "paragraph", "para.", "part", "pt.", "section", "sec.", "verse", "v.", "volume", "vol.",
  "¶¶", "¶", "§§", "§",
}
table.sort(LABELS, function(a, b)
  return #a > #b
end)

-- A suffix that is only a locator (", p. 3", ", 12-14"): citeproc reads it as the
-- item's locator, and the item has no suffix.
-- (The markdown reader puts a no-break space after "p." and its kind.)
local function only_locator(suffix)
  local text = pandoc.utils.stringify(suffix):gsub("\u{A0}", " ")
  text = text:gsub("^%s*,?%s*", ""):gsub("%s+$", "")
  local lower = text:lower()
  for _, label in ipairs(LABELS) do
    if lower:sub(1, #label) == label then
      text = text:sub(#label + 1):gsub("^%s+", "")
      break
    end
  end
  return text:gsub("\u{2013}", "-"):match("^%d[%d%s,%-&]*$") ~= nil
end

-- citeproc sorts the items of a citation between those with a prefix or a suffix,
-- which keep their places (pandoc-citeproc issue #292): the runs of plain items.
local function affixed(c)
  return #c.prefix > 0 or (#c.suffix > 0 and not only_locator(c.suffix))
end

local function number_order(doc)
  local rank, grouped = first_citations(doc)
  if not grouped then
    return nil
  end
  -- items not in the bibliography (citeproc warns of them) sort after the others
  local known = {}
  for _, ref in ipairs(pandoc.utils.references(doc)) do
    known[ref.id] = true
  end
  local function key(c)
    return known[c.id] and rank[c.id] or math.huge
  end
  local function sort_run(run, out)
    table.sort(run, function(a, b)
      if key(a.c) ~= key(b.c) then
        return key(a.c) < key(b.c)
      end
      return a.i < b.i
    end)
    for _, item in ipairs(run) do
      out:insert(item.c)
    end
  end
  local function sorted(cite)
    if #cite.citations < 2 then
      return nil
    end
    local out, run = pandoc.List({}), {}
    for i, c in ipairs(cite.citations) do
      if affixed(c) then
        sort_run(run, out)
        run = {}
        out:insert(c)
      else
        table.insert(run, { c = c, i = i })
      end
    end
    sort_run(run, out)
    cite.citations = out
    return cite
  end
  return doc:walk({ Cite = sorted })
end

return {
  {
    Pandoc = function(doc)
      if off(doc.meta) then
        return drop_citations(doc)
      end
      if collapses_numbers(doc.meta) then
        return number_order(doc)
      end
      return nil
    end,
  },
}
