--[[ plain-text.lua — tables and figures for the plain-text abstract.

Only for pandoc's `plain` writer (analysis.render.render_plain, which makes
the abstract.txt a submission system takes).  The plain writer draws tables
with dashed rules and appends `: caption {#id}`; both would be counted as
characters by an abstract's length rule.  Instead:
  * a table becomes its caption line ("Table 1: ...") followed by one line
    per row, cells separated by tabs (pastes into a submission form's
    table editor);
  * a figure becomes its caption line ("Figure 1: ...").
Other formats: no-op.
]]

if FORMAT ~= "plain" then
  return {}
end

local function text_of(blocks)
  -- plain text of cell content, on one line
  local text = pandoc.write(pandoc.Pandoc(blocks), "plain")
  return (text:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

local function rows_text(rows, lines)
  for _, row in ipairs(rows) do
    local cells = {}
    for _, cell in ipairs(row.cells) do
      table.insert(cells, text_of(cell.contents))
      for _ = 2, cell.col_span do
        table.insert(cells, "")
      end
    end
    table.insert(lines, table.concat(cells, "\t"))
  end
end

return {
  {
    Table = function(tbl)
      local lines = {}
      rows_text(tbl.head.rows, lines)
      for _, body in ipairs(tbl.bodies) do
        rows_text(body.head, lines)
        rows_text(body.body, lines)
      end
      rows_text(tbl.foot.rows, lines)
      local out = pandoc.Blocks({})
      local caption = pandoc.utils.blocks_to_inlines(tbl.caption.long)
      if #caption > 0 then
        out:insert(pandoc.Para(caption))
      end
      out:insert(pandoc.RawBlock("plain", table.concat(lines, "\n")))
      return out
    end,
    Figure = function(fig)
      local caption = pandoc.utils.blocks_to_inlines(fig.caption.long)
      if #caption == 0 then
        return {}
      end
      return pandoc.Para(caption)
    end,
  },
}
