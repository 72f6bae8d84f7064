--[[ layout.lua — poster column breaks and small print.

Column breaks.  An empty div with class `.column-break` ends the current
poster column; what follows starts at the top of the next one:

    ::: {.column-break}
    :::

With a `poster-columns` attribute ("4", or several: "3 4" / "3,4") the break
applies only when the poster has that many columns (metadata
`poster-columns`, default 4 on landscape pages and 3 on portrait ones), so
one source can hold the breaks of the landscape and of the portrait layout.
Breaks belong at the top level of the document (not inside a list, callout or
other div); one found elsewhere is an error.  Each format:

  * Typst (poster template), a poster without applicable breaks: the body is
    cut into units, each a heading with its lead paragraphs and the first
    figure, table or other block after them, a callout, or one other
    top-level block, handed to `#poster-flow(((start: .., body:
    [..]), ..))` (typst/typst-template.typ), which measures them and balances them over
    the columns (a unit that opens with a heading or is a callout is a
    section start: columns start there when they can, and the slack of a
    column goes into its gaps between sections; a `callout-important`, the key
    findings, is a lead unit, moved to the top of the column it falls in).  A `.poster-optional` div
    is one unit that is left out, last first, when the poster cannot hold
    everything (e.g. a second figure of a section that fits a portrait
    poster but not a landscape one); a cross-reference to a figure or table
    in one is an error on the poster (in every format: the HTML poster
    leaves it out too), as it would name a float that may not be there;
  * Typst (poster template), with breaks: `#poster-colbreak(n)` (typst/typst-template.typ), a
    column break to column n (2 for the first applicable break, ...) that is
    skipped when the flow has already reached column n because an earlier
    column overflowed, so one overflow does not cascade onto a second page;
  * HTML (poster template), without breaks: the units as above, each a
    `<div class="poster-unit">` (data-start, data-lead, data-optional) that
    the CSS columns keep whole, in one `<div class="poster-flow">`, followed
    by a script (BALANCE_SCRIPT) that balances them as the PDF's into a
    `<div class="poster-columns">` of one `<div class="poster-col">` per
    column (its data-avail, data-heights, data-bounds, data-dropped and
    data-tallest say what was measured and chosen, in CSS pixels);
  * HTML (poster template), with breaks: the body is cut at the breaks into
    `<div class="poster-column">` blocks inside one `<div class="poster-grid">`,
    which css/report.css lays out as a grid of `--poster-columns` columns (a
    style attribute on the grid); a poster without breaks goes into a
    `<div class="poster-flow">` that flows through as many CSS columns;
  * any other template or format (article, DOCX, plain text): dropped.

Small print.  A `.small` div (Bootstrap's class name, which Quarto's HTML
knows) sets its content in smaller type: `#small[...]` from typst/typst-template.typ
in Typst (0.8 em), the class in HTML (css/report.css), unchanged in DOCX.
A div with an id (a `#tbl-`/`#fig-` target) is left alone.

Callouts drawn before this filter (under Quarto filters/callouts.lua runs
first, and keeps each drawn callout in a Div of its classes, `psma-drawn`,
for the units above) are taken out of that Div in Typst, in every template:
a Div is a `#block[]`, whose spacing, not the callout's, would set the gap
above the callout, so the poster's columns would be measured otherwise than
the embedded renderer's (whose callouts are drawn after this filter).

Settings (filters/settings.lua): template, columns, source.  For HTML the
filter also sets the metadata templates/html.template reads: `psma-template`
(the body's class) and, on the poster, `psma-poster-page` (the page's size
and type scale, as analysis/render/layout.py poster_page_style computes it).
]]

local settings = dofile(pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "settings.lua" }))
local template, columns, source = "article", 0, "document"
local poster_html, poster_typst = false, false

-- The HTML poster balanced as the PDF's (typst/psma.typ, poster-flow): once
-- the page has loaded, the units are measured at the column width and split
-- over the columns by the same dynamic programme (even slack, a penalty for a
-- column that starts inside a section), optional units left out, the last
-- first, while no split fits; the key findings (a lead unit) head the column
-- they fall in; a column's slack goes into the gaps before its sections, each
-- growing by at most a cap while it can (the columns end within half an inch
-- of each other, at most an inch above the bottom margin).  When even so a column is
-- too tall, the body type is set smaller, down to 70% (the browser's fonts
-- are not the PDF's; the page clips what runs past it).  When the build rendered
-- the PDF too, it wrote the PDF's own choice into the flow's data-plan
-- (analysis/render/poster_plan.py): the script then keeps the PDF's units,
-- figure width, columns and spacing, and only sets the type smaller while a
-- column runs over.  Without scripts the CSS columns stay.
local BALANCE_SCRIPT = [==[<script>
(function () {
  function split(heights, starts, n, avail) {
    var m = heights.length, k, j, i;
    function cost(i, j) {
      var h = 0;
      for (var x = i; x < j; x++) h += heights[x];
      var c = h > avail ? 1e9 + (h - avail) / 96 : Math.pow((avail - h) / 96, 2);
      if (i > 0 && !starts[i]) c += 9;
      return c;
    }
    var kmax = Math.min(n, m), best = [];
    for (k = 0; k <= kmax; k++) {
      best.push([]);
      for (j = 0; j <= m; j++) best[k].push({ cost: Infinity, from: null });
    }
    best[0][0] = { cost: 0, from: null };
    for (k = 1; k <= kmax; k++) {
      for (j = k; j <= m; j++) {
        for (i = k - 1; i < j; i++) {
          if (best[k - 1][i].cost < Infinity) {
            var c = best[k - 1][i].cost + cost(i, j);
            if (c < best[k][j].cost) best[k][j] = { cost: c, from: i };
          }
        }
      }
    }
    var bounds = [m];
    j = m;
    for (k = kmax; k > 0; k--) {
      j = best[k][j].from;
      bounds.unshift(j);
    }
    return bounds;
  }
  // the PDF poster's plan in the flow's data-plan, when the build wrote it:
  // the units kept (the last optional ones left out), the columns' breaks
  function followed(all, n) {
    var flow = document.querySelector(".poster-flow"), plan;
    try { plan = JSON.parse(flow.dataset.plan || "null"); } catch (e) { plan = null; }
    if (!plan || !Array.isArray(plan.bounds)) return null;
    var kept = all.slice(), drop = plan.dropped | 0;
    for (var q = kept.length - 1; q >= 0 && drop > 0; q--) {
      if (kept[q].dataset.optional === "true") { kept.splice(q, 1); drop--; }
    }
    var b = plan.bounds, g = plan.gaps || [];
    if (drop > 0 || b.length < 2 || b.length - 1 > n || b[0] !== 0 || b[b.length - 1] !== kept.length) return null;
    if (g.length !== Math.max(0, kept.length - 1)) return null;
    return { kept: kept, bounds: b, gaps: g, scale: +plan["figure-scale"] || 1 };
  }
  function balance() {
    var flow = document.querySelector(".poster-flow");
    if (!flow || flow.dataset.balanced) return;
    var all = Array.prototype.slice.call(flow.children).filter(function (e) {
      return e.classList.contains("poster-unit");
    });
    var n = parseInt(getComputedStyle(flow).getPropertyValue("--poster-columns"), 10) || 1;
    // undo the template's overflow pruning: the balance decides here
    flow.style.fontSize = "";
    all.forEach(function (u) {
      u.style.display = "";
      Array.prototype.forEach.call(u.querySelectorAll(".poster-optional"), function (o) {
        o.style.display = "";
      });
    });
    var avail = flow.clientHeight;
    var cols = document.createElement("div");
    cols.className = "poster-columns";
    cols.style.setProperty("--poster-columns", n);
    for (var c = 0; c < n; c++) cols.appendChild(document.createElement("div")).className = "poster-col";
    flow.parentNode.insertBefore(cols, flow.nextSibling);
    var width = cols.firstChild.clientWidth;
    function measure(units) {
      // each unit alone in a column-wide box: its height with its margins
      return units.map(function (u) {
        var probe = document.createElement("div");
        probe.className = "poster-probe";
        probe.style.cssText = "position:absolute;visibility:hidden;display:flow-root;width:" + width + "px";
        cols.appendChild(probe);
        probe.appendChild(u);
        var h = probe.offsetHeight;
        flow.appendChild(u);
        cols.removeChild(probe);
        return h;
      });
    }
    var size = 1, kept, bounds, heights, tallest, spacing = null;
    // the height of column q of `bounds`: its units and the space between them
    function run(q) {
      var h = 0;
      for (var y = bounds[q]; y < bounds[q + 1]; y++) {
        h += heights[y] + (spacing && y > bounds[q] ? spacing[y] : 0);
      }
      return h;
    }
    function tallestRun() {
      var t = 0;
      for (var q = 0; q + 1 < bounds.length; q++) t = Math.max(t, run(q));
      return t;
    }
    var plan = followed(all, n);
    if (plan) {
      // the PDF's choice (analysis/render/poster_plan.py): its units, figure
      // width and columns, and its space between units (in pt at the PDF's type
      // size; the units' own outer margins are set to 0, report.css); the type
      // is set smaller while a column runs over
      kept = plan.kept;
      bounds = plan.bounds;
      cols.dataset.planned = "true";
      cols.style.setProperty("--poster-figure-scale", plan.scale);
      for (;;) {
        heights = measure(kept);
        spacing = kept.map(function (u, idx) { return idx ? plan.gaps[idx - 1] * 96 / 72 * size : 0; });
        tallest = tallestRun();
        if (tallest <= avail || size <= 0.71) break;
        size -= 0.01;
        cols.style.fontSize = size + "em";
      }
    }
    while (!plan) {
      kept = all.slice();
      for (;;) {
        heights = measure(kept);
        var starts = kept.map(function (u) { return u.dataset.start === "true"; });
        bounds = split(heights, starts, n, avail);
        tallest = tallestRun();
        var opt = -1;
        kept.forEach(function (u, idx) { if (u.dataset.optional === "true") opt = idx; });
        if (tallest <= avail || opt < 0) break;
        kept.splice(opt, 1);
      }
      if (tallest <= avail || size <= 0.71) break;
      size -= 0.02;
      cols.style.fontSize = size + "em";
    }
    all.forEach(function (u) {
      if (kept.indexOf(u) < 0) u.style.display = "none";
    });
    // each column's slack into its gaps as typst-template.typ poster-gaps
    // shares it out (the gaps grow by at most a cap while they can; the
    // columns end within half an inch of each other, at most an inch above
    // the bottom); 96 CSS px to the inch, `s` the poster's type scale
    var s = parseFloat(getComputedStyle(flow).getPropertyValue("--poster-scale")) || 1;
    var cap = 1.2 * 96 * s, tol = 0.5 * 96 * s, band = 96 * s;
    var slack = [], counts = [];
    for (var q = 0; q + 1 < bounds.length; q++) {
      var used = run(q);
      var starts = kept.slice(bounds[q] + 1, bounds[q + 1]).filter(function (u) {
        return u.dataset.start === "true";
      }).length;
      slack.push(Math.max(0, avail - used));
      counts.push(starts || Math.max(0, bounds[q + 1] - bounds[q] - 1));
    }
    var rest = slack.map(function (sl, q) { return Math.max(0, sl - counts[q] * cap); });
    var lift = Math.min(Math.max(0, Math.max.apply(null, rest) - tol), band, Math.min.apply(null, slack));
    var extra = slack.map(function (sl, q) {
      if (counts[q] === 0) return 0;
      var r = Math.min(Math.max(sl - counts[q] * cap, lift), lift + tol, sl);
      return Math.max(0, (sl - r) / counts[q]);
    });
    for (var k = 0; k + 1 < bounds.length; k++) {
      var col = cols.children[k];
      var part = kept.slice(bounds[k], bounds[k + 1]);
      part = part.filter(function (u) { return u.dataset.lead === "true"; }).concat(
        part.filter(function (u) { return u.dataset.lead !== "true"; }));
      var sections = part.slice(1).filter(function (u) { return u.dataset.start === "true"; }).length;
      part.forEach(function (u, idx) {
        var room = 0;
        if (idx > 0 && (u.dataset.start === "true" || sections === 0)) room += extra[k];
        if (idx > 0 && spacing) room += spacing[kept.indexOf(u)];
        if (room > 0) {
          var gap = col.appendChild(document.createElement("div"));
          gap.className = "poster-gap";
          gap.style.flex = "0 0 " + room.toFixed(1) + "px";
        }
        col.appendChild(u);
      });
    }
    all.forEach(function (u) { if (u.parentNode === flow) cols.appendChild(u); });
    flow.parentNode.removeChild(flow);
    cols.dataset.balanced = "true";
    cols.dataset.dropped = String(all.length - kept.length);
    cols.dataset.avail = String(avail);
    cols.dataset.tallest = String(tallest);
    cols.dataset.heights = heights.join(",");
    cols.dataset.bounds = bounds.join(",");
    if (window.psmaPosterNumbers) window.psmaPosterNumbers(); // templates/html.template
  }
  if (document.readyState === "complete") balance();
  else window.addEventListener("load", balance);
})();
</script>]==]

local function is_break(block)
  return block.t == "Div" and block.classes:includes("column-break")
end

-- Does this break apply to a poster of `columns` columns?
local function applies(div)
  local wanted = div.attributes["poster-columns"]
  if wanted == nil then
    return true
  end
  for n in wanted:gmatch("[^,%s]+") do
    if tonumber(n) == nil then
      error("layout.lua: " .. source .. ": poster-columns=\"" .. wanted
        .. "\" on a .column-break is not a list of whole numbers", 0)
    end
    if tonumber(n) == columns then
      return true
    end
  end
  return false
end

local function check_empty(div)
  if #div.content > 0 then
    error("layout.lua: " .. source .. ": a .column-break div must be empty "
      .. "(write ::: {.column-break} and ::: on two lines)", 0)
  end
end

local function nested_break_error()
  error("layout.lua: " .. source .. ": a .column-break must be at the top level of the "
    .. "document, not inside a list, callout or other div", 0)
end


-- A callout filters/callouts.lua has drawn already (under Quarto, which
-- makes callouts before this filter runs): raw Typst in a Div of the
-- callout's classes, kept for is_callout and the lead unit.
local function is_drawn_callout(block)
  return block.t == "Div" and block.attributes["psma-drawn"] ~= nil
end

local function is_callout(block)
  if block.t ~= "Div" then
    return false
  end
  for _, class in ipairs(block.classes) do
    if class:match("^callout") then
      return true
    end
  end
  return false
end

-- The poster body as units: for #poster-flow in Typst, as div.poster-unit
-- (kept whole by the CSS columns) in HTML (see the header comment).
local function flow_units(blocks, html)
  local out = pandoc.Blocks({})
  if not html then
    out:insert(pandoc.RawBlock("typst", "#poster-flow(("))
  end
  local i = 1
  while i <= #blocks do
    local block = blocks[i]
    local optional = block.t == "Div" and block.classes:includes("poster-optional")
    local first = optional and block.content[1] or block
    local start = first ~= nil
      and ((first.t == "Header" and first.level <= 2) or is_callout(first))
    local lead = first ~= nil and first.t == "Div" and first.classes:includes("callout-important")
    if html then
      out:insert(pandoc.RawBlock("html", '<div class="poster-unit" data-start="' .. tostring(start)
        .. '" data-lead="' .. tostring(lead) .. '" data-optional="' .. tostring(optional) .. '">'))
    else
      out:insert(pandoc.RawBlock("typst", "(start: " .. tostring(start) .. ", lead: "
        .. tostring(lead) .. ", optional: " .. tostring(optional) .. ", body: ["))
    end
    if optional and not html then
      out:extend(block.content)
    else
      out:insert(block)
    end
    -- raw Typst that opens a bracket (`#small[`) keeps what it encloses
    local depth = 0
    local function track(b)
      if b.t == "RawBlock" and b.format == "typst" then
        if b.text:match("%[%s*$") then
          depth = depth + 1
        elseif b.text:match("^%s*%]%s*$") then
          depth = depth - 1
        end
      end
    end
    track(block)
    -- a heading keeps its lead paragraphs and the first figure, table or
    -- other block after them: no heading without content, no headless figure
    local heading = block.t == "Header"
    while (heading or depth > 0) and i < #blocks do
      local nxt = blocks[i + 1]
      if depth == 0 and (is_callout(nxt) or (nxt.t == "Div" and nxt.classes:includes("poster-optional"))
          or (nxt.t == "Header" and block.t ~= "Header")) then
        break
      end
      i = i + 1
      block = nxt
      track(block)
      out:insert(block)
      if depth == 0 and block.t ~= "Header" and block.t ~= "Para" and block.t ~= "Plain" then
        heading = false
      end
    end
    out:insert(html and pandoc.RawBlock("html", "</div>") or pandoc.RawBlock("typst", "]),"))
    i = i + 1
  end
  if not html then
    out:insert(pandoc.RawBlock("typst", "))"))
  end
  return out
end

-- A `.poster-optional` div may be left out: a reference to a figure or
-- table in it is an error (see the header).
local function check_optional_references(blocks)
  local optional = {}
  for _, block in ipairs(blocks) do
    if block.t == "Div" and block.classes:includes("poster-optional") then
      block:walk({
        Div = function(d) optional[d.identifier] = true end,
        Figure = function(f) optional[f.identifier] = true end,
        Table = function(t) optional[t.identifier] = true end,
        Image = function(img) optional[img.identifier] = true end,
      })
    end
  end
  optional[""] = nil
  blocks:walk({
    Cite = function(cite)
      for _, c in ipairs(cite.citations) do
        if optional[c.id] then
          error("layout.lua: " .. source .. ": @" .. c.id .. " refers to #" .. c.id
            .. ", which is in a .poster-optional div: the poster leaves that out when it does"
            .. " not fit, so do not cross-reference it (or make it not optional)", 0)
        end
      end
    end,
  })
end

return {
  {
    Meta = function(meta)
      local s = settings.read(meta)
      template, columns, source = s.template, s.columns, s.source
      poster_html = template == "poster" and FORMAT:match("html") ~= nil
      poster_typst = template == "poster" and FORMAT == "typst"
      if FORMAT:match("html") then
        -- templates/html.template: the body's class, and the poster's page
        -- (its size and type scale, as the PDF's; css/report.css)
        meta["psma-template"] = template
        if poster_html and s.poster_width then
          local scale = math.min(s.poster_width, s.poster_height) / (36 * 72)
          meta["psma-poster-page"] = string.format(
            "width: %.1fpt; height: %.1fpt; --poster-scale: %.4f",
            s.poster_width, s.poster_height, scale)
        end
        return meta
      end
    end,
  },
  {
    Div = function(div)
      if FORMAT == "typst" and div.classes:includes("small") and div.identifier == "" then
        local blocks = pandoc.Blocks({ pandoc.RawBlock("typst", "#small[") })
        blocks:extend(div.content)
        blocks:insert(pandoc.RawBlock("typst", "]"))
        return blocks
      end
    end,
  },
  {
    Pandoc = function(doc)
      if template == "poster" then
        check_optional_references(doc.blocks)
      end
      -- breaks nested inside other blocks are errors
      for _, block in ipairs(doc.blocks) do
        if not is_break(block) then
          block:walk({
            Div = function(div)
              if div.classes:includes("column-break") then
                nested_break_error()
              end
            end,
          })
        end
      end

      local chunks = { pandoc.Blocks({}) }
      local column = 1
      local breaks = 0
      local out = pandoc.Blocks({})
      for _, block in ipairs(doc.blocks) do
        if is_break(block) then
          check_empty(block)
          if applies(block) then
            breaks = breaks + 1
            column = column + 1
            if poster_typst then
              out:insert(pandoc.RawBlock("typst", "#poster-colbreak(" .. column .. ")"))
            elseif poster_html then
              table.insert(chunks, pandoc.Blocks({}))
            end
          end
        else
          out:insert(block)
          chunks[#chunks]:insert(block)
        end
      end

      -- raw tags, not pandoc Divs: the HTML writer turns a Div that opens
      -- with a heading into a <section> carrying the heading's id
      local function open(class)
        return pandoc.RawBlock("html", '<div class="' .. class .. '" style="--poster-columns: '
          .. columns .. '">')
      end
      local close = pandoc.RawBlock("html", "</div>")
      if poster_html and #chunks > 1 then
        local blocks = pandoc.Blocks({ open("poster-grid") })
        for _, chunk in ipairs(chunks) do
          blocks:insert(pandoc.RawBlock("html", '<div class="poster-column">'))
          blocks:extend(chunk)
          blocks:insert(close)
        end
        blocks:insert(close)
        doc.blocks = blocks
      elseif poster_html then
        local blocks = pandoc.Blocks({ open("poster-flow") })
        blocks:extend(flow_units(out, true))
        blocks:insert(close)
        blocks:insert(pandoc.RawBlock("html", BALANCE_SCRIPT))
        doc.blocks = blocks
      elseif poster_typst and breaks == 0 then
        doc.blocks = flow_units(out, false)
      else
        doc.blocks = out
      end
      if FORMAT == "typst" then
        -- a drawn callout out of its Div (see the header): with the Div's
        -- #block[] Quarto's portrait poster kept two optional figures that
        -- the embedded renderer left out
        doc.blocks = doc.blocks:walk({
          Div = function(div)
            if is_drawn_callout(div) then
              return div.content
            end
          end,
        })
      end
      return doc
    end,
  },
}
