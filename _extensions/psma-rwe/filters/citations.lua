--[[ citations.lua — a document without references (metadata `show-references: false`).

A conference abstract may have no references (ASCO's have none): with
`show-references: false` (or "false") the citations to sources, [@key], are
dropped together with the space before them, and no reference list is made
(the renderer then runs no citeproc; analysis/render/pipeline.py).
Cross-references (@fig-x, @tbl-x) were resolved by crossref.lua before.
Otherwise this filter does nothing and pandoc's citeproc formats the
citations with the document's `csl`.
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

return {
  {
    Pandoc = function(doc)
      if not off(doc.meta) then
        return nil
      end
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
    end,
  },
}
