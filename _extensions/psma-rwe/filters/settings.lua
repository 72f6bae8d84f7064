--[[ settings.lua — what the filters need to know, under either renderer.

Not a filter: the filters load it with dofile() and call read(meta) in a
Meta pass of their own.  The embedded renderer (analysis/render/pipeline.py)
passes the settings it has checked in the environment (PSMA_RENDER_*);
under `quarto render` they come from the metadata and Quarto's Lua API
(quarto.project.directory, quarto.doc.input_file), with the same defaults:

  template     format-template: article (default) | poster
  columns      poster-columns, default 4 on a landscape poster-size, 3 on a portrait one
  table_notes  table-notes: all | footnotes (the poster's default) | none
  project_dir  the project's folder (absolute)
  source_dir   the document's folder (absolute)
  source       the document, project-relative (for messages)
  png_dir      where PNG copies of the SVG figures are (project-relative): the
               embedded renderer's work folder, or _psma/png under Quarto
  docx_width   the DOCX text width in points (papersize letter 468, a4 451)
  poster_width, poster_height  the poster's page in points (poster-size)
  quarto       true under `quarto render` (pandoc then runs in the document's
               folder, not in the project's)
]]

local M = {}

-- Named poster sizes in points (typst-template.typ poster-sizes and
-- analysis/render/layout.py POSTER_SIZES list the same names).
local MM = 72 / 25.4
local SIZES = {
  ["48x36in"] = { 3456, 2592 },
  ["36x48in"] = { 2592, 3456 },
  a0 = { 841 * MM, 1189 * MM },
  ["a0-landscape"] = { 1189 * MM, 841 * MM },
  a1 = { 594 * MM, 841 * MM },
  ["a1-landscape"] = { 841 * MM, 594 * MM },
}
local UNIT = { ["in"] = 72, cm = 72 / 2.54, mm = MM, pt = 1 }

local function text(value)
  if value == nil then
    return nil
  end
  local s = pandoc.utils.stringify(value):gsub("^%s+", ""):gsub("%s+$", "")
  if s == "" then
    return nil
  end
  return s
end

--- (width, height) in points of a `poster-size` value, or nil when it is not one.
function M.poster_size_pt(size)
  local key = (size or "48x36in"):lower():gsub("%s", ""):gsub("\xc3\x97", "x")
  if SIZES[key] then
    return SIZES[key][1], SIZES[key][2]
  end
  local w, h, unit = key:match("^([%d.]+)x([%d.]+)(%a+)$")
  if w and UNIT[unit] and tonumber(w) and tonumber(h) then
    return tonumber(w) * UNIT[unit], tonumber(h) * UNIT[unit]
  end
  return nil
end

local function portrait(size)
  local w, h = M.poster_size_pt(size)
  return w ~= nil and h > w
end

function M.read(meta)
  local env = os.getenv
  local s = {}
  s.template = env("PSMA_RENDER_TEMPLATE") or (text(meta["format-template"]) or "article"):lower()
  local columns = tonumber(env("PSMA_RENDER_COLUMNS") or "")
  if not columns then
    columns = tonumber(text(meta["poster-columns"]) or "")
      or (portrait(text(meta["poster-size"])) and 3 or 4)
  end
  s.columns = s.template == "poster" and columns or 0
  s.table_notes = env("PSMA_RENDER_TABLE_NOTES")
    or (text(meta["table-notes"]) or (s.template == "poster" and "footnotes" or "all")):lower()
  local in_quarto = quarto ~= nil and quarto.doc ~= nil and quarto.project ~= nil
  s.quarto = in_quarto
  s.project_dir = env("PSMA_RENDER_PROJECT_DIR")
    or (in_quarto and quarto.project.directory) or pandoc.system.get_working_directory()
  local input = in_quarto and quarto.doc.input_file or nil
  s.source_dir = env("PSMA_RENDER_SOURCE_DIR")
    or (input and pandoc.path.directory(input)) or s.project_dir
  s.source = env("PSMA_RENDER_SOURCE")
    or (input and pandoc.path.make_relative(input, s.project_dir)) or "document"
  -- under Quarto: psma-rwe prepare's support folder (analysis/render/quarto.py)
  s.png_dir = env("PSMA_RENDER_PNG_DIR") or (in_quarto and "_psma/png") or ""
  local paper = (text(meta.papersize) or "letter"):lower()
  s.docx_width = tonumber(env("PSMA_RENDER_DOCX_TEXT_WIDTH") or "")
    or (paper == "a4" and 451.3 or 468)
  s.poster_width, s.poster_height = M.poster_size_pt(text(meta["poster-size"]))
  return s
end

--- Load this module from a filter: `local settings = dofile(...)`.
function M.path()
  return pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "settings.lua" })
end

return M
