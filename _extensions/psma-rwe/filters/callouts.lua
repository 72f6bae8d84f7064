--[[ callouts.lua — Quarto callout blocks.

::: {.callout-note}  (also -tip, -important, -warning, -caution, or plain
.callout).  The title is the `title="..."` attribute, else a heading that
opens the callout, else the type's name ("Note", "Tip", ...); a plain
.callout or appearance="simple" without a title has none.

  * HTML:  <div class="callout callout-note"> with a .callout-title and a
    .callout-body, styled by css/report.css;
  * Typst: #callout(kind: "note", title: [...])[body] from typst/typst-template.typ;
  * DOCX:  plain — the title as a bold paragraph, then the body.

The embedded renderer sees the callout as a Div; under `quarto render`,
Quarto has made it a Callout node (its own title rules), drawn the same way.
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

-- The callout in the output format: `kind` (note, tip, ..., plain), its
-- title (inlines or nil), body (blocks) and id.
local function render(kind, title, body, identifier)
  if FORMAT:match("html") then
    local blocks = pandoc.Blocks({})
    if title then
      blocks:insert(pandoc.Div({ pandoc.Plain(title) }, pandoc.Attr("", { "callout-title" })))
    end
    blocks:insert(pandoc.Div(body, pandoc.Attr("", { "callout-body" })))
    return pandoc.Div(blocks, pandoc.Attr(identifier, { "callout", "callout-" .. kind }))
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
    return pandoc.Div(blocks, pandoc.Attr(identifier, {}))
  end
end

return {
  {
    -- the embedded renderer: the callout is still a Div
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
      return render(kind, title, body, div.identifier)
    end,
    -- quarto render: Quarto has parsed the callout (title, type) into its
    -- Callout node; it is drawn as the embedded renderer draws it
    Callout = function(callout)
      local kind = TITLES[callout.type] and callout.type or "plain"
      local title = callout.title
      if title ~= nil and pandoc.utils.type(title) ~= "Inlines" then
        title = pandoc.utils.blocks_to_inlines(pandoc.Blocks(title))
      end
      if (title == nil or #title == 0) then
        title = nil
        if kind ~= "plain" and callout.appearance ~= "simple" then
          title = pandoc.Inlines(TITLES[kind])
        end
      end
      local id = callout.attr and callout.attr.identifier or ""
      local out = render(kind, title, pandoc.Blocks(callout.content), id)
      if FORMAT == "typst" then
        -- kept in a Div of the callout's classes, for filters/layout.lua (which
        -- runs after this filter under Quarto: the key findings lead their
        -- column); layout.lua then takes the callout out of it (`psma-drawn`),
        -- as the embedded renderer's: a Div is a #block[] in Typst, and its
        -- spacing (not the callout's) would set the gap above the callout
        return pandoc.Div(out, pandoc.Attr("", { "callout", "callout-" .. kind }, { ["psma-drawn"] = "true" }))
      end
      return out
    end,
  },
}
