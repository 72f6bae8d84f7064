--[[ spaces.lua — one space where an empty value left two.

A var or meta shortcode whose value is empty (the abstract's
`cohort.date_note` when the data need no note) leaves the spaces on both
of its sides: "October 2023.  Baseline" in Word and in the Typst source
(HTML collapses them on the page, Word and a copy-paste do not).  Here an
empty Str is dropped and a Space or SoftBreak that follows another is
dropped, in every list of inlines.  A space that starts or ends a list is
kept (a Span's leading space separates it from the word before it).
]]

local function is_space(il)
  return il ~= nil and (il.t == "Space" or il.t == "SoftBreak")
end

return {
  {
    Inlines = function(inlines)
      local out = pandoc.Inlines({})
      local changed = false
      for _, il in ipairs(inlines) do
        if (il.t == "Str" and il.text == "") or (is_space(il) and is_space(out[#out])) then
          changed = true
        else
          out:insert(il)
        end
      end
      if changed then
        return out
      end
      return nil
    end,
  },
}
