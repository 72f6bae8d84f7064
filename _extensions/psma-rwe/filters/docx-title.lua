--[[ docx-title.lua — authors and affiliations for Word output.

The HTML and Typst templates print the title block themselves from the
normalised `by-author` / `by-affiliation` metadata (analysis/render/project.py).
Pandoc's docx writer only knows `author`, so for docx this filter sets
`author` to one line of the names with superscript affiliation marks
("Jane Doe¹˒², John Smith¹"; the marks as raw Word runs, so that the file's
author property lists the names alone) and
puts the numbered affiliations (and a `conference` line, if any) at the top
of the body in Word's "Author" paragraph style.  Other formats: no-op.

With `toc: true` the table of contents follows the affiliations (the renderer
does not pass pandoc's --toc for docx, whose TOC would sit between the
authors and their affiliations): a Word TOC field (levels 1 to `toc-depth`,
marked dirty so that Word refreshes it and adds page numbers on opening)
whose cached result already lists the headings as links in the styles
"toc 1" to "toc N", so the list shows before any update of fields.
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

local function raw(xml)
  return pandoc.RawInline("openxml", xml)
end

local function toc_blocks(doc)
  local meta = doc.meta
  local depth = tonumber(pandoc.utils.stringify(meta["toc-depth"] or "3")) or 3
  local entries = pandoc.Blocks({})
  doc.blocks:walk({
    Header = function(h)
      if h.level <= depth and not h.classes:includes("unlisted") and h.identifier ~= "" then
        local link = pandoc.Link(h.content, "#" .. h.identifier)
        local style = "toc " .. h.level
        entries:insert(pandoc.Div({ pandoc.Para({ link }) }, pandoc.Attr("", {}, { ["custom-style"] = style })))
      end
    end,
  })
  if #entries == 0 then
    entries:insert(pandoc.Para({}))
  end
  local begin = raw(
    '<w:r><w:fldChar w:fldCharType="begin" w:dirty="true" /></w:r>'
      .. '<w:r><w:instrText xml:space="preserve"> TOC \\o &quot;1-' .. depth .. '&quot; \\h \\z \\u </w:instrText></w:r>'
      .. '<w:r><w:fldChar w:fldCharType="separate" /></w:r>'
  )
  local finish = raw('<w:r><w:fldChar w:fldCharType="end" /></w:r>')
  local first = entries[1].t == "Div" and entries[1].content[1] or entries[1]
  first.content:insert(1, begin)
  local last = entries[#entries].t == "Div" and entries[#entries].content[1] or entries[#entries]
  last.content:insert(finish)
  local title = meta["toc-title"] and inlines(meta["toc-title"]) or pandoc.Inlines("Contents")
  local out = pandoc.Blocks({
    pandoc.Div({ pandoc.Para(title) }, pandoc.Attr("", {}, { ["custom-style"] = "TOC Heading" })),
  })
  out:extend(entries)
  return out
end

return {
  {
    Pandoc = function(doc)
      local meta = doc.meta
      local authors = meta["by-author"]
      if authors and #authors > 0 then
        -- one "Author" paragraph, the names separated by commas (as the PDF)
        local line = pandoc.Inlines({})
        for i, a in ipairs(authors) do
          if i > 1 then
            line:extend({ pandoc.Str(","), pandoc.Space() })
          end
          line:extend(inlines(a.name and a.name.literal or a.name))
          local numbers = pandoc.List({})
          for _, aff in ipairs(a.affiliations or {}) do
            numbers:insert(pandoc.utils.stringify(aff.number))
          end
          local marks = table.concat(numbers, ",")
          if marks ~= "" then
            -- a raw superscript run: the file's author property (pandoc's
            -- stringified `author`) then names the authors without the marks
            -- ("Jane Doe, John Smith", not "Jane Doe1, John Smith1,2")
            local text = marks:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;")
            line:insert(pandoc.RawInline("openxml",
              '<w:r><w:rPr><w:vertAlign w:val="superscript" /></w:rPr><w:t xml:space="preserve">'
              .. text .. "</w:t></w:r>"))
          end
        end
        meta.author = pandoc.List({ line })
      end
      local front = pandoc.Blocks({})
      for _, aff in ipairs(meta["by-affiliation"] or {}) do
        local line = pandoc.Inlines({ pandoc.Superscript(inlines(aff.number)), pandoc.Space() })
        line:extend(inlines(aff.name))
        front:insert(pandoc.Para(line))
      end
      if meta.conference then
        front:insert(pandoc.Para({ pandoc.Emph(inlines(meta.conference)) }))
      end
      local toc = meta.toc == true and toc_blocks(doc) or pandoc.Blocks({})
      meta.toc = nil -- pandoc's own TOC (the writer reads `toc` too) would come first
      if #front > 0 then
        local div = pandoc.Div(front, pandoc.Attr("", {}, { ["custom-style"] = "Author" }))
        toc:insert(1, div)
      end
      doc.blocks = toc .. doc.blocks
      doc.meta = meta
      return doc
    end,
  },
}
