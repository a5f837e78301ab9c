// Draws one community (nodes and links from the JSON endpoint) on a canvas with a tiny
// force layout. No libraries; text goes through fillText (never HTML), so memory content
// cannot inject markup.
(function () {
  "use strict";
  var canvas = document.getElementById("graph-canvas");
  if (!canvas) return;
  var ctx = canvas.getContext("2d"), status = document.getElementById("graph-status");
  var W = canvas.width, H = canvas.height, nodes = [], links = [], byId = {}, drag = null, hover = null, moved = false;
  var palette = ["#2458b3", "#1e7a3a", "#b36b00", "#7b3fb3", "#b3261e", "#00838f"], spaces = {};

  function colour(ns) { if (!(ns in spaces)) spaces[ns] = palette[Object.keys(spaces).length % palette.length]; return spaces[ns]; }

  function step() {
    var i, j, a, b, dx, dy, d2, f;
    for (i = 0; i < nodes.length; i++) for (j = i + 1; j < nodes.length; j++) {  // repulsion
      a = nodes[i]; b = nodes[j]; dx = a.x - b.x; dy = a.y - b.y; d2 = dx * dx + dy * dy + 0.01;
      f = 900 / d2; a.vx += dx * f; a.vy += dy * f; b.vx -= dx * f; b.vy -= dy * f;
    }
    links.forEach(function (l) {  // springs
      dx = l.t.x - l.s.x; dy = l.t.y - l.s.y; f = 0.01 * l.weight;
      l.s.vx += dx * f; l.s.vy += dy * f; l.t.vx -= dx * f; l.t.vy -= dy * f;
    });
    nodes.forEach(function (n) {  // gravity, damping, bounds
      n.vx += (W / 2 - n.x) * 0.004; n.vy += (H / 2 - n.y) * 0.004;
      if (n !== drag) { n.x += n.vx; n.y += n.vy; }
      n.vx *= 0.6; n.vy *= 0.6;
      n.x = Math.max(8, Math.min(W - 8, n.x)); n.y = Math.max(8, Math.min(H - 8, n.y));
    });
  }

  function draw() {
    ctx.clearRect(0, 0, W, H);
    ctx.strokeStyle = "#9aa7b8";
    links.forEach(function (l) {
      ctx.globalAlpha = 0.25 + 0.75 * Math.min(1, l.weight);
      ctx.beginPath(); ctx.moveTo(l.s.x, l.s.y); ctx.lineTo(l.t.x, l.t.y); ctx.stroke();
    });
    ctx.globalAlpha = 1;
    nodes.forEach(function (n) {
      ctx.fillStyle = colour(n.namespace); ctx.beginPath(); ctx.arc(n.x, n.y, n === hover ? 8 : 6, 0, 2 * Math.PI); ctx.fill();
    });
    if (hover) {
      ctx.fillStyle = "#1d2430"; ctx.font = "12px system-ui, sans-serif";
      ctx.fillText(hover.text.slice(0, 90), Math.min(hover.x + 10, W - 420), Math.max(hover.y - 10, 14));
    }
  }

  var ticks = 0;
  function loop() { step(); draw(); if (++ticks < 400 || drag) requestAnimationFrame(loop); }

  function at(ev) {
    var r = canvas.getBoundingClientRect(), x = (ev.clientX - r.left) * W / r.width, y = (ev.clientY - r.top) * H / r.height;
    var best = null, bd = 144;
    nodes.forEach(function (n) { var d = (n.x - x) * (n.x - x) + (n.y - y) * (n.y - y); if (d < bd) { bd = d; best = n; } });
    return { node: best, x: x, y: y };
  }
  canvas.addEventListener("mousedown", function (ev) { drag = at(ev).node; moved = false; if (drag) { ticks = 0; loop(); } });
  canvas.addEventListener("mousemove", function (ev) {
    var p = at(ev);
    if (drag) { drag.x = p.x; drag.y = p.y; moved = true; }
    if (hover !== p.node) { hover = p.node; draw(); }
    canvas.style.cursor = p.node ? "pointer" : "default";
  });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("click", function (ev) {
    var n = at(ev).node;
    if (n && !moved) window.location.href = canvas.dataset.memory + encodeURIComponent(n.id);
  });

  fetch(canvas.dataset.src, { credentials: "same-origin" }).then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }).then(function (g) {
    nodes = g.nodes.map(function (n, i) {
      var a = 2 * Math.PI * i / Math.max(1, g.nodes.length);
      var node = { id: n.id, text: n.text, namespace: n.namespace, x: W / 2 + 200 * Math.cos(a), y: H / 2 + 200 * Math.sin(a), vx: 0, vy: 0 };
      byId[n.id] = node; return node;
    });
    links = g.links.filter(function (l) { return byId[l.source] && byId[l.target]; })
      .map(function (l) { return { s: byId[l.source], t: byId[l.target], weight: l.weight }; });
    status.textContent = nodes.length + " memories, " + links.length + " links";
    canvas.dataset.nodes = String(nodes.length); canvas.dataset.links = String(links.length);
    loop();
  }).catch(function (e) { status.textContent = "could not load the graph: " + e.message; });
})();
