--[[ shortcodes.lua — put {{< var >}} / {{< meta >}} values back as text.

The Python pre-pass (analysis/render/shortcodes.py) replaced each var/meta
shortcode by a placeholder token QSCX<nonce>nnnnnXQSC and wrote the nonce (capital
letters, random for each render and absent from every input) and the values,
as {"nonce": ..., "values": [...]} (values indexed from 0), to the file named
by $PSMA_RENDER_VALUES.  Only tokens with this nonce are placeholders: text
shaped like one with another nonce (or none) is data and stays as written.
This filter swaps every token for its value, everywhere a token can end up:

  * prose (Str): the value becomes plain inlines (words and spaces), which
    every writer escapes — so "<script>" prints as text, never as markup;
  * code spans, code blocks, link targets, image sources, attributes: the
    value verbatim;
  * raw HTML (the included great-tables fragments): HTML-escaped; other raw
    formats verbatim;
  * document metadata (title, subtitle, ...), walked recursively;
  * identifiers pandoc derived from a heading's text (lower-case tokens):
    the value made into an identifier the way pandoc makes one, so that no
    nonce reaches an output.

It also turns the pre-pass's `.psma-pagebreak` divs ({{< pagebreak >}}) into
each format's page break.
]]

local values = {}
local nonce = nil

local path = os.getenv("PSMA_RENDER_VALUES")
if path and path ~= "" then
  local fh = assert(io.open(path, "r"))
  local data = pandoc.json.decode(fh:read("a"), false)
  fh:close()
  nonce, values = data.nonce, data.values
  assert(type(nonce) == "string" and nonce:match("^%u+$"), "shortcodes.lua: bad nonce")
end

-- With no values file there are no placeholders at all.
local PREFIX = nonce and ("QSCX" .. nonce) or nil
local TOKEN = nonce and ("QSCX" .. nonce .. "(%d+)XQSC") or nil
local LOWER_PREFIX = PREFIX and PREFIX:lower() or nil
local LOWER_TOKEN = nonce and ("qscx" .. nonce:lower() .. "(%d+)xqsc") or nil

local function value_of(digits)
  local v = values[tonumber(digits) + 1]
  if v == nil then
    -- the pre-pass wrote every token it made; this cannot come from the data
    error("shortcodes.lua: no value for placeholder " .. digits, 0)
  end
  return v
end

local function replace_text(s, escape)
  if not PREFIX or not s:find(PREFIX, 1, true) then
    return s
  end
  return (s:gsub(TOKEN, function(d)
    local v = value_of(d)
    return escape and escape(v) or v
  end))
end

-- pandoc's auto_identifiers for a value: lower case, punctuation other than
-- _-. dropped, whitespace runs to one hyphen
local function identifier_of(s)
  s = pandoc.text.lower(s)
  s = s:gsub("%s+", "-")
  local out = {}
  for _, c in utf8.codes(s) do
    local ch = utf8.char(c)
    if c > 127 or ch:match("[%w_%-%.]") then
      table.insert(out, ch)
    end
  end
  return table.concat(out)
end

local function replace_identifier(s)
  s = replace_text(s)
  if not LOWER_PREFIX or not s:find(LOWER_PREFIX, 1, true) then
    return s
  end
  return (s:gsub(LOWER_TOKEN, function(d)
    return identifier_of(value_of(d))
  end))
end

local function html_escape(s)
  return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"))
end

-- Text -> Inlines, with whitespace as Space so writers can wrap lines.
local function text_inlines(s)
  local out = pandoc.Inlines({})
  if s:match("^%s") then
    out:insert(pandoc.Space())
  end
  local words = 0
  for word in s:gmatch("%S+") do
    if words > 0 then
      out:insert(pandoc.Space())
    end
    out:insert(pandoc.Str(word))
    words = words + 1
  end
  if words > 0 and s:match("%s$") then
    out:insert(pandoc.Space())
  end
  return out
end

local function fix_attr(el)
  if el.identifier then
    el.identifier = replace_identifier(el.identifier)
  end
  if el.attributes then
    for k, v in pairs(el.attributes) do
      el.attributes[k] = replace_text(v)
    end
  end
  return el
end

local filter = {}

function filter.Str(el)
  if not PREFIX or not el.text:find(PREFIX, 1, true) then
    return nil
  end
  local out = pandoc.Inlines({})
  local rest = el.text
  while true do
    local s, e, d = rest:find(TOKEN)
    if not s then
      break
    end
    if s > 1 then
      out:insert(pandoc.Str(rest:sub(1, s - 1)))
    end
    out:extend(text_inlines(value_of(d)))
    rest = rest:sub(e + 1)
  end
  if rest ~= "" then
    out:insert(pandoc.Str(rest))
  end
  return out
end

function filter.Code(el)
  el.text = replace_text(el.text)
  return fix_attr(el)
end

function filter.CodeBlock(el)
  el.text = replace_text(el.text)
  return fix_attr(el)
end

local function raw(el)
  local escape = el.format:match("html") and html_escape or nil
  el.text = replace_text(el.text, escape)
  return el
end
filter.RawInline = raw
filter.RawBlock = raw

function filter.Link(el)
  el.target = replace_text(el.target)
  el.title = replace_text(el.title)
  return fix_attr(el)
end

function filter.Image(el)
  el.src = replace_text(el.src)
  el.title = replace_text(el.title)
  return fix_attr(el)
end

function filter.Span(el)
  return fix_attr(el)
end

function filter.Header(el)
  return fix_attr(el)
end

function filter.Div(el)
  if el.classes:includes("psma-pagebreak") then
    if FORMAT:match("html") then
      return pandoc.RawBlock("html", '<div class="page-break"></div>')
    elseif FORMAT == "typst" then
      return pandoc.RawBlock("typst", "#pagebreak(weak: true)")
    elseif FORMAT == "docx" then
      return pandoc.RawBlock("openxml", '<w:p><w:r><w:br w:type="page"/></w:r></w:p>')
    end
    return {}
  end
  return fix_attr(el)
end

local function fix_meta(value)
  local t = pandoc.utils.type(value)
  if t == "Inlines" or t == "Blocks" then
    return value:walk(filter)
  elseif t == "string" then
    return replace_text(value)
  elseif t == "List" then
    for i, v in ipairs(value) do
      value[i] = fix_meta(v)
    end
    return value
  elseif t == "table" or t == "Meta" then
    for k, v in pairs(value) do
      value[k] = fix_meta(v)
    end
    return value
  end
  return value
end

function filter.Meta(meta)
  return fix_meta(meta)
end

return { filter }
