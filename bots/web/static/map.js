/* climat-koom: the map of a challenge's pledgers, drawn in SVG from the shipped country
   outlines (no tiles, no library). Web Mercator in hundredths of a degree, like
   core/mapping; zoom with the wheel, a pinch or the buttons, pan by dragging. */
(function () {
  "use strict";
  var svg = document.getElementById("map");
  var root = document.getElementById("challenge");
  if (!svg || !root) {
    return;
  }
  var NS = "http://www.w3.org/2000/svg";
  var lang = root.getAttribute("data-lang") || "en";
  var numbers = new Intl.NumberFormat(lang);
  var plurals = new Intl.PluralRules(lang);
  var levelNames = JSON.parse(svg.getAttribute("data-level-names") || "[]");
  var outlinesUrl = root.getAttribute("data-outlines-url");
  var placesUrl = root.getAttribute("data-places-url");
  var areasUrl = root.getAttribute("data-areas-url");
  var tip = document.getElementById("map-tip");

  var MAX_LAT = 85;
  var WORLD = 36000;
  var MIN_SPAN_KM = 220; /* one city still shows its region and the nearest borders */
  var KM_PER_UNIT = 40075 / WORLD;
  var DEFAULT_VIEW = [-5.3, 41.2, 9.7, 51.3]; /* France with Corsica */
  var DETAIL_LEVELS = [5, 20]; /* degrees: as bots/web/outlines.py LEVELS */
  var MAX_LABELS = 10;
  var MAX_PLACES = 8; /* names of the largest places in view, as on the chat's map picture */
  /* The challenge's own area, marked as on the chat's map picture (a pin and its name; a
     département's outline drawn as its own). */
  var own = svg.hasAttribute("data-own-lat")
    ? {
        name: svg.getAttribute("data-own-name"),
        lat: parseFloat(svg.getAttribute("data-own-lat")),
        lon: parseFloat(svg.getAttribute("data-own-lon")),
        key: svg.getAttribute("data-own-key"),
      }
    : null;

  function x(lon) {
    return lon * 100;
  }
  function y(lat) {
    var r = (Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180;
    return (-100 * 180 * Math.log(Math.tan(Math.PI / 4 + r / 2))) / Math.PI;
  }
  function latOf(py) {
    return ((2 * Math.atan(Math.exp(((-py / 100) * Math.PI) / 180)) - Math.PI / 2) * 180) / Math.PI;
  }
  var Y_TOP = y(MAX_LAT);
  var Y_BOTTOM = y(-MAX_LAT);

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (parent) {
      parent.appendChild(node);
    }
    return node;
  }

  var worldLayer = el("g", { class: "land world" }, svg);
  var detailLayer = el("g", { class: "land detail" }, svg);
  var placeLayer = el("g", { class: "places", "aria-hidden": "true" }, svg);
  var areaLayer = el("g", { class: "areas" }, svg);
  var ownLayer = el("g", { class: "own-area", "aria-hidden": "true" }, svg);
  var labelLayer = el("g", { class: "labels", "aria-hidden": "true" }, svg);
  var ownLabel = own ? el("text", { class: "own" }, el("g", { class: "labels" }, svg)) : null;
  var places = [];
  var placesKey = null;
  for (var p = 0; p < MAX_PLACES; p++) {
    el("circle", { visibility: "hidden" }, placeLayer);
    el("text", { visibility: "hidden" }, placeLayer);
  }
  var ownPin = own ? el("circle", { cx: x(own.lon).toFixed(1), cy: y(own.lat).toFixed(1) }, ownLayer) : null;

  var view = { x: 0, y: 0, w: 1, h: 1 };
  var home = null;
  var areas = [];
  var areasVersion = null;
  var touched = false;
  var detailKey = null;
  var detailTimer = null;
  var frame = null;

  /* --- outlines ----------------------------------------------------------------------- */

  function ringPath(ring) {
    var parts = [];
    for (var i = 0; i < ring.length; i++) {
      parts.push((i ? "L" : "M") + x(ring[i][0]).toFixed(0) + "," + y(ring[i][1]).toFixed(1));
    }
    return parts.join("") + "Z";
  }

  function featurePath(geometry) {
    var polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    var d = "";
    polygons.forEach(function (polygon) {
      polygon.forEach(function (ring) {
        d += ringPath(ring);
      });
    });
    return d;
  }

  function featureKey(feature) {
    return String(feature.id || (feature.properties && feature.properties.name) || "");
  }

  function drawOutlines(layer, collection) {
    var fragment = document.createDocumentFragment();
    var keys = {};
    collection.features.forEach(function (feature) {
      if (!feature.geometry) {
        return;
      }
      var key = featureKey(feature);
      keys[key] = true;
      var attributes = { d: featurePath(feature.geometry), "data-country": key };
      if (feature.properties && feature.properties.level === "departement") {
        /* drawn over its country, outline only; the challenge's own tinted */
        attributes["class"] = own && own.key === key ? "departement own" : "departement";
      }
      el("path", attributes, fragment);
    });
    while (layer.firstChild) {
      layer.removeChild(layer.firstChild);
    }
    layer.appendChild(fragment);
    return keys;
  }

  function coverWorld(keys) {
    worldLayer.querySelectorAll("path").forEach(function (path) {
      path.classList.toggle("covered", !!keys[path.getAttribute("data-country")]);
    });
  }

  function snapped() {
    var west = view.x / 100;
    var east = (view.x + view.w) / 100;
    var north = latOf(view.y);
    var south = latOf(view.y + view.h);
    var span = Math.max(east - west, north - south);
    for (var i = 0; i < DETAIL_LEVELS.length; i++) {
      var size = DETAIL_LEVELS[i];
      if (span <= size) {
        return [
          Math.max(-180, Math.floor(west / size) * size),
          Math.max(-MAX_LAT, Math.floor(south / size) * size),
          Math.min(180, Math.ceil(east / size) * size),
          Math.min(MAX_LAT, Math.ceil(north / size) * size),
        ];
      }
    }
    return null;
  }

  function loadPlaces(key) {
    if (key === placesKey || !placesUrl) {
      return;
    }
    placesKey = key;
    fetch(placesUrl + (key ? "?bbox=" + key : ""))
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (found) {
        if (found && placesKey === key) {
          places = found.places;
          schedule();
        }
      })
      .catch(function () {});
  }

  function placesKeyOf() {
    /* The view widened to whole degrees (as bots/web/outlines.py places_box), or the world. */
    var west = view.x / 100;
    var east = (view.x + view.w) / 100;
    var north = latOf(view.y);
    var south = latOf(view.y + view.h);
    if (Math.max(east - west, north - south) > DETAIL_LEVELS[DETAIL_LEVELS.length - 1]) {
      return null;
    }
    return [
      Math.max(-180, Math.floor(west)),
      Math.max(-90, Math.floor(south)),
      Math.min(180, Math.ceil(east)),
      Math.min(90, Math.ceil(north)),
    ].join(",");
  }

  function loadDetail() {
    loadPlaces(placesKeyOf());
    var box = snapped();
    var key = box ? box.join(",") : null;
    if (key === detailKey) {
      return;
    }
    detailKey = key;
    if (!box || box[0] >= box[2] || box[1] >= box[3]) {
      drawOutlines(detailLayer, { features: [] });
      coverWorld({});
      return;
    }
    fetch(outlinesUrl + "?bbox=" + key)
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (collection) {
        if (collection && detailKey === key) {
          coverWorld(drawOutlines(detailLayer, collection));
        }
      })
      .catch(function () {});
  }

  /* --- view ----------------------------------------------------------------------------- */

  function size() {
    var box = svg.getBoundingClientRect();
    return { w: Math.max(1, box.width), h: Math.max(1, box.height) };
  }

  function unitsPerPixel() {
    return view.w / size().w;
  }

  function setView(cx, cy, w) {
    var s = size();
    w = Math.max(20, Math.min(WORLD, w));
    var h = (w * s.h) / s.w;
    cx = Math.max(-WORLD / 2, Math.min(WORLD / 2, cx));
    cy = Math.max(Y_TOP, Math.min(Y_BOTTOM, cy));
    view = { x: cx - w / 2, y: cy - h / 2, w: w, h: h };
    svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
    schedule();
    window.clearTimeout(detailTimer);
    detailTimer = window.setTimeout(loadDetail, 250);
  }

  function fit(box) {
    /* box: [west, south, east, north] in degrees; kept whole in the view. */
    var x0 = x(box[0]);
    var x1 = x(box[2]);
    var y0 = y(box[3]);
    var y1 = y(box[1]);
    var middle = (box[1] + box[3]) / 2;
    var minSpan = MIN_SPAN_KM / (KM_PER_UNIT * Math.cos((middle * Math.PI) / 180));
    var s = size();
    var w = Math.max(x1 - x0, minSpan) * 1.3;
    var h = Math.max(y1 - y0, minSpan) * 1.3;
    w = Math.max(w, (h * s.w) / s.h);
    setView((x0 + x1) / 2, (y0 + y1) / 2, w);
  }

  function areasBox() {
    if (!areas.length && !own) {
      return DEFAULT_VIEW;
    }
    var box = [180, 90, -180, -90];
    areas.concat(own ? [own] : []).forEach(function (area) {
      box[0] = Math.min(box[0], area.lon);
      box[1] = Math.min(box[1], area.lat);
      box[2] = Math.max(box[2], area.lon);
      box[3] = Math.max(box[3], area.lat);
    });
    return box;
  }

  function zoom(factor, px, py) {
    var s = size();
    var fx = px === undefined ? 0.5 : px / s.w;
    var fy = py === undefined ? 0.5 : py / s.h;
    var ax = view.x + fx * view.w;
    var ay = view.y + fy * view.h;
    var w = Math.max(20, Math.min(WORLD, view.w / factor));
    var h = (w * s.h) / s.w;
    setView(ax - fx * w + w / 2, ay - fy * h + h / 2, w);
  }

  function pan(dx, dy) {
    var upp = unitsPerPixel();
    setView(view.x + view.w / 2 - dx * upp, view.y + view.h / 2 - dy * upp, view.w);
  }

  /* --- areas -------------------------------------------------------------------------- */

  function people(count) {
    var form = plurals.select(count) === "one" ? "data-people-one" : "data-people-other";
    return (svg.getAttribute(form) || "{count}").replace("{count}", numbers.format(count));
  }

  function describe(area) {
    var level = area.level > 0 && levelNames[1] ? " (" + levelNames[1] + ")" : "";
    return area.label + level + " · " + people(area.count);
  }

  function drawAreas() {
    var largest = areas.reduce(function (m, a) {
      return Math.max(m, a.count);
    }, 1);
    var fragment = document.createDocumentFragment();
    areas.forEach(function (area) {
      area.size = 4 + 18 * Math.sqrt(area.count / largest);
      var circle = el("circle", {
        class: "area level-" + Math.min(area.level, 3),
        cx: x(area.lon).toFixed(1),
        cy: y(area.lat).toFixed(1),
        "data-label": area.label,
        "data-count": String(area.count),
        "data-level": String(area.level),
        tabindex: "0",
      });
      circle.__area = area;
      el("title", {}, circle).textContent = describe(area);
      fragment.appendChild(circle);
    });
    while (areaLayer.firstChild) {
      areaLayer.removeChild(areaLayer.firstChild);
    }
    areaLayer.appendChild(fragment);
    while (labelLayer.childNodes.length < MAX_LABELS) {
      el("text", {}, labelLayer);
    }
    svg.setAttribute("data-areas", String(areas.length));
    schedule();
  }

  function overlaps(box, boxes) {
    for (var i = 0; i < boxes.length; i++) {
      var other = boxes[i];
      if (box[0] < other[2] && other[0] < box[2] && box[1] < other[3] && other[1] < box[3]) {
        return true;
      }
    }
    return false;
  }

  function placeLabels(upp) {
    /* The largest areas in view get a label, on the right of their circle or else on the
       left, never over another label. */
    var s = size();
    var texts = labelLayer.childNodes;
    var placed = [];
    var named = {};
    if (own) {
      placeOwn(upp, s, placed);
      named[own.name] = true;
    }
    for (var i = 0; i < areas.length && placed.length < texts.length; i++) {
      var area = areas[i];
      var px = (x(area.lon) - view.x) / upp;
      var py = (y(area.lat) - view.y) / upp;
      if (px < 0 || py < 0 || px > s.w || py > s.h) {
        continue;
      }
      var words = area.label + " · " + numbers.format(area.count);
      var width = 7.4 * words.length + 4;
      var right = [px + area.size + 3, py - 9, px + area.size + 3 + width, py + 7];
      var left = [px - area.size - 3 - width, py - 9, px - area.size - 3, py + 7];
      var box = !overlaps(right, placed) ? right : !overlaps(left, placed) ? left : null;
      if (!box) {
        continue;
      }
      var text = texts[placed.length];
      placed.push(box);
      named[area.label] = true;
      text.textContent = words;
      text.setAttribute("x", (view.x + box[0] * upp).toFixed(2));
      text.setAttribute("y", (view.y + (py + 4) * upp).toFixed(2));
      text.setAttribute("data-for", area.label);
      text.removeAttribute("visibility");
    }
    for (var j = placed.length; j < texts.length; j++) {
      texts[j].setAttribute("visibility", "hidden");
    }
    placeNames(upp, s, placed, named);
  }

  function placeOwn(upp, s, placed) {
    /* The own area's pin and name, before any other label. */
    var px = (x(own.lon) - view.x) / upp;
    var py = (y(own.lat) - view.y) / upp;
    ownPin.setAttribute("r", (6 * upp).toFixed(2));
    ownPin.setAttribute("stroke-width", (3 * upp).toFixed(3));
    var text = ownLabel;
    var group = text.parentNode;
    group.setAttribute("font-size", (13 * upp).toFixed(3));
    group.setAttribute("stroke-width", (3 * upp).toFixed(3));
    if (px < 0 || py < 0 || px > s.w || py > s.h) {
      text.setAttribute("visibility", "hidden");
      return;
    }
    var width = 8.2 * own.name.length + 4;
    var box = [px + 10, py - 24, px + 10 + width, py - 6];
    placed.push(box);
    text.textContent = own.name;
    text.setAttribute("data-for", own.name);
    text.setAttribute("x", (view.x + box[0] * upp).toFixed(2));
    text.setAttribute("y", (view.y + (py - 10) * upp).toFixed(2));
    text.removeAttribute("visibility");
  }

  function placeNames(upp, s, placed, named) {
    /* The most populous places in view, a dot and a name each, wherever they hit neither a
       label nor a pledgers' circle. */
    var nodes = placeLayer.childNodes;
    var circles = [];
    areas.forEach(function (area) {
      var px = (x(area.lon) - view.x) / upp;
      var py = (y(area.lat) - view.y) / upp;
      circles.push([px - area.size, py - area.size, px + area.size, py + area.size]);
    });
    var shown = 0;
    for (var i = 0; i < places.length && shown < MAX_PLACES; i++) {
      var place = places[i];
      var px = (x(place.lon) - view.x) / upp;
      var py = (y(place.lat) - view.y) / upp;
      if (named[place.name] || px < 0 || py < 0 || px > s.w || py > s.h) {
        continue;
      }
      var width = 6.6 * place.name.length + 4;
      var box = [px + 5, py - 8, px + 5 + width, py + 6];
      if (box[2] > s.w || overlaps(box, placed) || overlaps(box, circles)) {
        continue;
      }
      placed.push(box);
      var dot = nodes[2 * shown];
      var text = nodes[2 * shown + 1];
      dot.setAttribute("cx", x(place.lon).toFixed(1));
      dot.setAttribute("cy", y(place.lat).toFixed(1));
      dot.setAttribute("r", (2.5 * upp).toFixed(2));
      dot.removeAttribute("visibility");
      text.textContent = place.name;
      text.setAttribute("data-for", place.name);
      text.setAttribute("x", (view.x + box[0] * upp).toFixed(2));
      text.setAttribute("y", (view.y + (py + 4) * upp).toFixed(2));
      text.removeAttribute("visibility");
      shown++;
    }
    for (var j = 2 * shown; j < nodes.length; j++) {
      nodes[j].setAttribute("visibility", "hidden");
    }
    placeLayer.setAttribute("font-size", (11 * upp).toFixed(3));
    placeLayer.setAttribute("stroke-width", (3 * upp).toFixed(3));
    svg.setAttribute("data-places", String(shown));
  }

  function rescale() {
    frame = null;
    var upp = unitsPerPixel();
    areaLayer.querySelectorAll("circle").forEach(function (circle) {
      circle.setAttribute("r", (circle.__area.size * upp).toFixed(2));
      circle.setAttribute("stroke-width", (1.5 * upp).toFixed(3));
    });
    labelLayer.setAttribute("font-size", (12 * upp).toFixed(3));
    labelLayer.setAttribute("stroke-width", (3 * upp).toFixed(3));
    placeLabels(upp);
  }

  function schedule() {
    if (frame === null) {
      frame = window.requestAnimationFrame(rescale);
    }
  }

  function loadAreas(version) {
    areasVersion = version;
    return fetch(areasUrl + "?v=" + encodeURIComponent(String(version)))
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (collection) {
        if (!collection) {
          return;
        }
        areas = collection.features.map(function (feature) {
          return {
            lon: feature.geometry.coordinates[0],
            lat: feature.geometry.coordinates[1],
            label: feature.properties.label,
            count: feature.properties.count,
            level: feature.properties.level,
          };
        });
        home = areasBox();
        if (!touched) {
          fit(home);
        }
        drawAreas();
      })
      .catch(function () {});
  }

  /* --- interaction ---------------------------------------------------------------------- */

  function showTip(area, clientX, clientY) {
    if (!tip) {
      return;
    }
    var frameBox = svg.parentNode.getBoundingClientRect();
    tip.textContent = describe(area);
    tip.hidden = false;
    tip.style.left = clientX - frameBox.left + 12 + "px";
    tip.style.top = clientY - frameBox.top + 12 + "px";
  }

  function hideTip() {
    if (tip) {
      tip.hidden = true;
    }
  }

  var pointers = {};
  var pinch = null;

  svg.addEventListener("pointerdown", function (event) {
    touched = true;
    pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
    svg.setPointerCapture(event.pointerId);
    svg.classList.add("dragging");
  });

  svg.addEventListener("pointermove", function (event) {
    var last = pointers[event.pointerId];
    if (!last) {
      var target = event.target;
      if (target && target.__area) {
        showTip(target.__area, event.clientX, event.clientY);
      } else {
        hideTip();
      }
      return;
    }
    var ids = Object.keys(pointers);
    if (ids.length === 2) {
      var other = pointers[ids[0] === String(event.pointerId) ? ids[1] : ids[0]];
      var before = Math.hypot(last.x - other.x, last.y - other.y);
      var after = Math.hypot(event.clientX - other.x, event.clientY - other.y);
      var box = svg.getBoundingClientRect();
      if (before > 0) {
        zoom(
          after / before,
          (event.clientX + other.x) / 2 - box.left,
          (event.clientY + other.y) / 2 - box.top
        );
      }
      pinch = true;
    } else if (!pinch) {
      pan(event.clientX - last.x, event.clientY - last.y);
    }
    pointers[event.pointerId] = { x: event.clientX, y: event.clientY };
  });

  function release(event) {
    delete pointers[event.pointerId];
    if (!Object.keys(pointers).length) {
      pinch = null;
      svg.classList.remove("dragging");
    }
  }
  svg.addEventListener("pointerup", release);
  svg.addEventListener("pointercancel", release);
  svg.addEventListener("pointerleave", hideTip);

  svg.addEventListener(
    "wheel",
    function (event) {
      event.preventDefault();
      touched = true;
      var box = svg.getBoundingClientRect();
      var delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
      zoom(Math.exp(-delta * 0.0015), event.clientX - box.left, event.clientY - box.top);
    },
    { passive: false }
  );

  svg.addEventListener("click", function (event) {
    if (event.target && event.target.__area) {
      showTip(event.target.__area, event.clientX, event.clientY);
    }
  });

  svg.setAttribute("tabindex", "0");
  svg.addEventListener("keydown", function (event) {
    var moves = { ArrowLeft: [80, 0], ArrowRight: [-80, 0], ArrowUp: [0, 80], ArrowDown: [0, -80] };
    if (moves[event.key]) {
      pan(moves[event.key][0], moves[event.key][1]);
    } else if (event.key === "+" || event.key === "=") {
      zoom(1.5);
    } else if (event.key === "-") {
      zoom(1 / 1.5);
    } else {
      return;
    }
    touched = true;
    event.preventDefault();
  });

  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var what = button.getAttribute("data-zoom");
      if (what === "in") {
        zoom(1.6);
      } else if (what === "out") {
        zoom(1 / 1.6);
      } else {
        touched = false;
        fit(home || areasBox());
      }
    });
  });

  window.addEventListener("resize", function () {
    setView(view.x + view.w / 2, view.y + view.h / 2, view.w);
  });

  document.addEventListener("koom:state", function (event) {
    var version = event.detail.areas_version;
    if (String(version) !== String(areasVersion)) {
      loadAreas(version);
    }
  });

  /* --- start -------------------------------------------------------------------------- */

  fit(DEFAULT_VIEW);
  fetch(outlinesUrl)
    .then(function (response) {
      return response.ok ? response.json() : null;
    })
    .then(function (collection) {
      if (collection) {
        drawOutlines(worldLayer, collection);
        svg.setAttribute("data-outlines", String(collection.features.length));
      }
    })
    .catch(function () {});
  if (areasVersion === null) {
    loadAreas(root.getAttribute("data-areas-version") || "0");
  }
})();
