--[[ conditional.lua — Quarto's conditional content for one output format.

Divs, spans and code blocks with class `.content-visible` or `.content-hidden`
and optional `when-format="..."` / `unless-format="..."` attributes (several
names may be separated by commas or spaces).

  .content-visible  kept when every condition holds (no condition: kept);
  .content-hidden   dropped when every condition holds (no condition: dropped).

Format names match as in Quarto: `html` (also html4/html5) for HTML; `pdf`
and `typst` both match the Typst PDF (Quarto treats them alike for Typst
output); `docx` for Word.  Kept divs/spans are unwrapped so they leave no
trace in the output.
]]

local ALIASES = {
  html = { html = true, html4 = true, html5 = true },
  typst = { typst = true, pdf = true },
  docx = { docx = true },
}

local current = FORMAT:match("html") and "html" or FORMAT

local function matches(list)
  for name in list:gmatch("[^,%s]+") do
    local set = ALIASES[current]
    if (set and set[name]) or name == current then
      return true
    end
  end
  return false
end

-- true when the element's when-/unless-format conditions all hold
local function conditions_hold(attrs)
  local when = attrs["when-format"]
  local unless = attrs["unless-format"]
  if when and not matches(when) then
    return false
  end
  if unless and matches(unless) then
    return false
  end
  return true
end

local CONDITION_KEYS = { ["when-format"] = true, ["unless-format"] = true }

local function keep(el)
  local visible = el.classes:includes("content-visible")
  local hidden = el.classes:includes("content-hidden")
  if not visible and not hidden then
    return nil
  end
  for key, _ in pairs(el.attributes) do
    if key:match("^when%-") or key:match("^unless%-") then
      if not CONDITION_KEYS[key] then
        error("conditional.lua: unsupported condition '" .. key .. "' (only when-format/unless-format)", 0)
      end
    end
  end
  local holds = conditions_hold(el.attributes)
  if visible then
    return holds
  end
  return not holds
end

-- A kept element loses the conditional class and attributes; a plain one
-- (no id, no other class) is unwrapped altogether.
local function strip(el)
  el.classes = el.classes:filter(function(c)
    return c ~= "content-visible" and c ~= "content-hidden"
  end)
  el.attributes["when-format"] = nil
  el.attributes["unless-format"] = nil
  return el
end

local function container(el)
  local k = keep(el)
  if k == nil then
    return nil
  end
  if not k then
    return {}
  end
  strip(el)
  if el.identifier == "" and #el.classes == 0 and #el.attributes == 0 then
    return el.content
  end
  return el
end

return {
  {
    Div = container,
    Span = container,
    CodeBlock = function(el)
      local k = keep(el)
      if k == nil then
        return nil
      end
      return k and strip(el) or {}
    end,
  },
}
