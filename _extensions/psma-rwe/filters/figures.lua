--[[ figures.lua — resolve image paths and pick each format's image file.

Image paths are resolved like Quarto does (relative to the document's folder;
a leading "/" means the project root) and, as our extension, fall back to
the project root, so both `../figures/x.svg` and `figures/x.svg` work from
report/x.qmd.  A missing file or a remote (http/https) image is an error:
nothing may be loaded from the network.  Paths are rewritten relative to the
project root, the working directory pandoc and typst run in (under Quarto,
which runs pandoc in the document's folder, relative to that folder;
Typst's stay root-absolute).

Per format:
  * typst: a `.svg` with a `.pdf` sibling uses the PDF (SVG text renders with
    the wrong fonts in Typst); paths become root-absolute ("/figures/x.pdf",
    Typst resolves them against the project root it is given); on the
    poster template an image without a width fills its column (width=100%).
  * docx: a `.svg` uses the PNG the Python side rendered into
    $PSMA_RENDER_PNG_DIR/<path>.png (Word's SVG support without a PNG
    fallback is poor); images keep their physical size from the PNG's ppi.
  * html: unchanged apart from the path; --embed-resources inlines it.

Settings (filters/settings.lua): project_dir, source_dir, source, png_dir,
template.
]]

local settings = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "settings.lua" }))
local project_dir, source_dir, source, png_dir, template = ".", ".", "document", "", "article"
local in_quarto = false

local function exists(path)
  local fh = io.open(path, "rb")
  if fh then
    fh:close()
    return true
  end
  return false
end

-- Split "a/b/../c" into parts, resolving "." and ".."; nil when it climbs
-- above the root.
local function parts_of(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts == 0 then
        return nil
      end
      table.remove(parts)
    elseif part ~= "." then
      table.insert(parts, part)
    end
  end
  return parts
end

local root_parts = {}

-- Project-relative path of `src` (a path written in the document), or nil.
local function project_relative(src)
  local candidates = {}
  if src:sub(1, 1) == "/" then
    table.insert(candidates, project_dir .. src)
  else
    table.insert(candidates, source_dir .. "/" .. src)
    table.insert(candidates, project_dir .. "/" .. src)
  end
  for _, candidate in ipairs(candidates) do
    local parts = parts_of(candidate)
    if parts and #parts > #root_parts then
      local inside = true
      for i, p in ipairs(root_parts) do
        if parts[i] ~= p then
          inside = false
          break
        end
      end
      if inside then
        local rel = table.concat(parts, "/", #root_parts + 1)
        if exists(project_dir .. "/" .. rel) then
          return rel
        end
      end
    end
  end
  return nil
end

local function image(el)
  local src = el.src
  if src:match("^data:") then
    return nil
  end
  if src:match("^%a[%w+.-]*://") then
    error("figures.lua: " .. source .. ": remote image '" .. src
      .. "' is not allowed (nothing may be loaded from the network); save it under figures/", 0)
  end
  local rel = project_relative(pandoc.path.normalize(src))
  if not rel then
    error("figures.lua: " .. source .. ": image '" .. src .. "' not found (looked relative to "
      .. "the document and to the project root)", 0)
  end
  if FORMAT == "typst" then
    local pdf = rel:gsub("%.svg$", ".pdf")
    if rel:match("%.svg$") and exists(project_dir .. "/" .. pdf) then
      rel = pdf
    end
    el.src = "/" .. rel
    if template == "poster" and not el.attributes.width then
      el.attributes.width = "100%"
    end
  elseif FORMAT == "docx" then
    local png = png_dir .. "/" .. rel .. ".png"
    if rel:match("%.svg$") and png_dir ~= "" and exists(project_dir .. "/" .. png) then
      rel = png
    end
    el.src = rel
  else
    el.src = rel
  end
  if in_quarto and FORMAT ~= "typst" then
    -- Quarto runs pandoc in the document's folder (and reads "/x" as project-rooted)
    el.src = pandoc.path.make_relative(project_dir .. "/" .. el.src, source_dir, true)
  end
  return el
end

return {
  {
    Meta = function(meta)
      local s = settings.read(meta)
      project_dir, source_dir, source = s.project_dir, s.source_dir, s.source
      png_dir, template = s.png_dir, s.template
      in_quarto = s.quarto
      root_parts = parts_of(project_dir)
    end,
  },
  { Image = image },
}
