--[[ typography.lua — spaces and radionuclides as a typeset page has them.

One space where an empty value left two: a var or meta shortcode whose
value is empty (the abstract's `cohort.date_note` when the data need no
note) leaves the spaces on both of its sides: "October 2023.  Baseline" in
Word and in the Typst source (HTML collapses them on the page, Word and a
copy-paste do not).  An empty Str is dropped and a Space or SoftBreak that
follows another is dropped, in every list of inlines.  A space that starts
or ends a list is kept (a Span's leading space separates it from the word
before it).

A radionuclide's mass number as a superscript: "177Lu-PSMA-617" becomes
"¹⁷⁷Lu-PSMA-617" in the text, the metadata (the title) and the tables
(filters/nuclides.lua says which and how; gt-tables.lua does the same in
the HTML tables, which stay raw HTML).

It runs after the shortcodes are resolved and gt-tables.lua has made the
Typst and Word tables native (under Quarto: `at: post-quarto`).
]]

local nuclides = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "nuclides.lua" }))

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
          if il.t == "Str" then
            local text = nuclides.superscript(il.text)
            if text ~= il.text then
              il = pandoc.Str(text)
              changed = true
            end
          end
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
