-- post-render.lua: the post-render step of a psma-rwe project.
--
-- _quarto.yml names it (project: post-render:); Quarto runs it in the project
-- folder after each render, with pandoc's Lua.  It runs
-- `<python> -m analysis.render.quarto_post` (Word's tables and figures set as
-- in a build, HTML checked for network loads) with the Python that
-- `psma-rwe prepare` recorded in _psma/python, so psma-rwe need not be on PATH.
-- Inside `psma-rwe build --renderer quarto` it does nothing: the build
-- post-processes each file itself.

if os.getenv("PSMA_RWE_IN_BUILD") then
  return
end

local file = io.open("_psma/python", "r")
if not file then
  io.stderr:write("psma-rwe: _psma/python not found: run psma-rwe prepare in the project first\n")
  os.exit(1)
end
local python = file:read("l")
file:close()

local ok, _, code = os.execute('"' .. python .. '" -m analysis.render.quarto_post')
if not ok then
  os.exit(code or 1)
end
