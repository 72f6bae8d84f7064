--[[ docx-title.lua — authors and affiliations for Word output.

The HTML and Typst templates print the title block themselves from the
normalised `by-author` / `by-affiliation` metadata (analysis/render/project.py).
Pandoc's docx writer only knows `author`, so for docx this filter sets
`author` to the names with superscript affiliation marks ("Jane Doe¹˒²") and
puts the numbered affiliations (and a `conference` line, if any) at the top
of the body in Word's "Author" paragraph style.  Other formats: no-op.
]]

if FORMAT ~= "docx" then
  return {}
end

local function inlines(value)
  if value == nil then
    return pandoc.Inlines({})
  end
  if pandoc.utils.type(value) == "Inlines" then
    return value
  end
  return pandoc.Inlines(pandoc.utils.stringify(value))
end

return {
  {
    Pandoc = function(doc)
      local meta = doc.meta
      local authors = meta["by-author"]
      if authors and #authors > 0 then
        local list = pandoc.List({})
        for _, a in ipairs(authors) do
          local name = pandoc.Inlines({})
          name:extend(inlines(a.name))
          local marks = pandoc.utils.stringify(a.marks or "")
          if marks ~= "" then
            name:insert(pandoc.Superscript(pandoc.Inlines(marks)))
          end
          list:insert(name)
        end
        meta.author = list
      end
      local front = pandoc.Blocks({})
      for _, aff in ipairs(meta["by-affiliation"] or {}) do
        local line = pandoc.Inlines({ pandoc.Superscript(inlines(aff.mark)), pandoc.Space() })
        line:extend(inlines(aff.name))
        front:insert(pandoc.Para(line))
      end
      if meta.conference then
        front:insert(pandoc.Para({ pandoc.Emph(inlines(meta.conference)) }))
      end
      if #front > 0 then
        local div = pandoc.Div(front, pandoc.Attr("", {}, { ["custom-style"] = "Author" }))
        doc.blocks:insert(1, div)
      end
      doc.meta = meta
      return doc
    end,
  },
}
