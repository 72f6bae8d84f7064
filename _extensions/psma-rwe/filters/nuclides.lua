--[[ nuclides.lua — a radionuclide's mass number as a superscript (a library,
not a filter: typography.lua and gt-tables.lua load it).

"177Lu-PSMA-617" is printed "¹⁷⁷Lu-PSMA-617", as journals print it, with the
fonts' superscript digits (every bundled font has them), so that the text is
the same in HTML, PDF, Word and plain text, and a chart or a search finds one
spelling.  Only the radionuclides of NUCLIDES are changed, and only as a whole
word part: the mass number not preceded by a letter or digit, the symbol not
followed by a letter ("177Lux" is left alone).  Text already written with
superscripts is left as it is.
]]

local M = {}

--- Radionuclides of nuclear medicine, "<mass number><symbol>".
M.NUCLIDES = {
  ["177Lu"] = true, ["225Ac"] = true, ["68Ga"] = true, ["18F"] = true,
  ["64Cu"] = true, ["67Cu"] = true, ["212Pb"] = true, ["203Pb"] = true,
  ["161Tb"] = true, ["223Ra"] = true, ["90Y"] = true, ["131I"] = true,
  ["123I"] = true, ["124I"] = true, ["89Zr"] = true, ["111In"] = true,
  ["153Sm"] = true, ["89Sr"] = true,
}

local SUPERSCRIPT = {
  ["0"] = "⁰", ["1"] = "¹", ["2"] = "²", ["3"] = "³", ["4"] = "⁴",
  ["5"] = "⁵", ["6"] = "⁶", ["7"] = "⁷", ["8"] = "⁸", ["9"] = "⁹",
}

--- `text` with the mass number of each radionuclide of NUCLIDES superscript.
function M.superscript(text)
  if not text:find("%d%d%u") then
    return text
  end
  return (text:gsub("()(%d%d%d?)(%u%l?)()", function(at, mass, symbol, after)
    local before = at > 1 and text:sub(at - 1, at - 1) or ""
    local next = text:sub(after, after)
    if before:match("[%w]") or next:match("%a") or not M.NUCLIDES[mass .. symbol] then
      return nil
    end
    return mass:gsub("%d", SUPERSCRIPT) .. symbol
  end))
end

--- The same in the text between the tags of an HTML fragment (not in its tags).
function M.superscript_html(html)
  if not html:find("%d%d%u") then
    return html
  end
  return (html:gsub(">([^<]+)", function(text)
    return ">" .. M.superscript(text)
  end))
end

return M
