--[[ long-words.lua — very long words for pandoc's Typst writer.

pandoc's Typst writer takes time quadratic in the length of one Str: a
100 KB word (a data string with no space, in an included table) took about
40 s.  For Typst output a Str longer than CHUNK bytes is cut into adjacent
Strs, which the writer prints back to back, so the .typ text is the same.
Cuts fall only between two letters (ASCII, or whole non-ASCII characters),
where no escaping of the writer depends on what precedes or follows (a
line-start "1." or "-", a "//" comment, a "*"); a word with no such place
is left whole.  Other formats: no-op.
]]

if FORMAT ~= "typst" then
  return {}
end

local CHUNK = 2000

-- may a word be cut before byte i (between s[i-1] and s[i])?
local function cut_ok(s, i)
  local a, b = s:byte(i - 1), s:byte(i)
  local letter_before = (a >= 65 and a <= 90) or (a >= 97 and a <= 122) or a >= 128
  local letter_after = (b >= 65 and b <= 90) or (b >= 97 and b <= 122) or b >= 192
  return letter_before and letter_after
end

return {
  {
    Str = function(el)
      local s = el.text
      if #s <= CHUNK then
        return nil
      end
      local out = pandoc.Inlines({})
      local start = 1
      local i = start + CHUNK
      while i <= #s do
        if cut_ok(s, i) then
          out:insert(pandoc.Str(s:sub(start, i - 1)))
          start = i
          i = start + CHUNK
        else
          i = i + 1
        end
      end
      out:insert(pandoc.Str(s:sub(start)))
      return out
    end,
  },
}
