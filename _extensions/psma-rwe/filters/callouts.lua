--[[ callouts.lua — Quarto callout blocks.

::: {.callout-note}  (also -tip, -important, -warning, -caution, or plain
.callout).  The title is the `title="..."` attribute, else a heading that
opens the callout, else the type's name ("Note", "Tip", ...); a plain
.callout or appearance="simple" without a title has none.

  * HTML:  <div class="callout callout-note"> with a .callout-title and a
    .callout-body, styled by css/report.css;
  * Typst: #callout(kind: "note", title: [...])[body] from typst/psma.typ;
  * DOCX:  plain — the title as a bold paragraph, then the body.
]]

local TITLES = {
  note = "Note",
  tip = "Tip",
  important = "Important",
  warning = "Warning",
  caution = "Caution",
}

local function callout_kind(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind and TITLES[kind] then
      return kind
    end
  end
  if div.classes:includes("callout") then
    return "plain"
  end
  return nil
end

local function typst_content(inlines)
  local text = pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), "typst")
  return (text:gsub("%s+$", ""))
end

return {
  {
    Div = function(div)
      local kind = callout_kind(div)
      if not kind then
        return nil
      end
      local body = pandoc.Blocks({})
      body:extend(div.content)
      local title = nil
      if div.attributes.title then
        title = pandoc.Inlines(div.attributes.title)
      elseif body[1] and body[1].t == "Header" then
        title = body[1].content
        body:remove(1)
      elseif kind ~= "plain" and div.attributes.appearance ~= "simple" then
        title = pandoc.Inlines(TITLES[kind])
      end

      if FORMAT:match("html") then
        local blocks = pandoc.Blocks({})
        if title then
          blocks:insert(pandoc.Div({ pandoc.Plain(title) }, pandoc.Attr("", { "callout-title" })))
        end
        blocks:insert(pandoc.Div(body, pandoc.Attr("", { "callout-body" })))
        return pandoc.Div(blocks, pandoc.Attr(div.identifier, { "callout", "callout-" .. kind }))
      elseif FORMAT == "typst" then
        local open = '#callout(kind: "' .. kind .. '"'
        if title then
          open = open .. ", title: [" .. typst_content(title) .. "]"
        end
        local blocks = pandoc.Blocks({ pandoc.RawBlock("typst", open .. ")[") })
        blocks:extend(body)
        blocks:insert(pandoc.RawBlock("typst", "]"))
        return blocks
      else
        local blocks = pandoc.Blocks({})
        if title then
          blocks:insert(pandoc.Para({ pandoc.Strong(title) }))
        end
        blocks:extend(body)
        return pandoc.Div(blocks, pandoc.Attr(div.identifier, {}))
      end
    end,
  },
}
