/* AWARE dispatch console: the live alarm queue.
 *
 * The page is rendered by the server (and works without this script through plain forms).
 * This script connects to the Socket.IO namespace /dispatch, rebuilds the queue from every
 * `alarms.snapshot` (so a reconnect never misses anything), merges `alarm.new` and
 * `alarm.updated` by id and seq (an older change never overwrites a newer one), and talks to
 * the alarm API with the console's bearer token. No innerHTML with data: text only.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("console-config").textContent);
  var S = config.strings;
  var alarms = new Map(); // id -> alarm object (open or acknowledged)
  var gone = new Map(); // id -> seq of resolved alarms, so late older news cannot revive them
  var selectedId = null;
  var devices = new Map(); // alarm id -> its device as it is now (from /alarms/<id>/context)
  var snapshotSeen = false;

  var el = {
    connection: document.getElementById("connection"),
    degraded: document.getElementById("degraded"),
    shift: document.getElementById("shift"),
    sound: document.getElementById("sound"),
    notice: document.getElementById("notice"),
    open: document.getElementById("queue-open"),
    acked: document.getElementById("queue-acknowledged"),
    openCount: document.getElementById("open-count"),
    ackCount: document.getElementById("ack-count"),
    empty: document.getElementById("empty"),
    template: document.getElementById("alarm-template"),
    detail: document.getElementById("detail"),
    detailTitle: document.getElementById("detail-title"),
    facts: document.getElementById("detail-facts"),
    map: document.getElementById("map"),
    card: document.getElementById("case-card"),
    timeline: document.getElementById("timeline"),
    noteForm: document.getElementById("note-form"),
    noteText: document.getElementById("note-text"),
  };

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) {
      return values[key] === undefined || values[key] === null ? "" : String(values[key]);
    });
  }

  function localTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleTimeString(config.lang === "en" ? "en-GB" : "nl-NL");
  }

  function localDateTime(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(config.lang === "en" ? "en-GB" : "nl-NL");
  }

  function ageText(iso) {
    var s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }

  function node(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  }

  function showNotice(text) {
    el.notice.textContent = text;
    el.notice.hidden = !text;
    if (text) {
      clearTimeout(showNotice.timer);
      showNotice.timer = setTimeout(function () { el.notice.hidden = true; }, 15000);
    }
  }

  // ---- connection state -------------------------------------------------------------------
  function setConnection(state, text) {
    el.connection.dataset.state = state;
    el.connection.textContent = text || S[state] || state;
  }

  // ---- merging ----------------------------------------------------------------------------
  function merge(alarm) {
    var known = alarms.get(alarm.id);
    if (known && known.seq >= alarm.seq) return false;
    var goneSeq = gone.get(alarm.id);
    if (goneSeq !== undefined && goneSeq >= alarm.seq) return false;
    if (alarm.status === "resolved") {
      alarms.delete(alarm.id);
      gone.set(alarm.id, alarm.seq);
    } else {
      alarms.set(alarm.id, alarm);
    }
    return true;
  }

  function applySnapshot(data) {
    var seen = new Set();
    (data.alarms || []).forEach(function (a) {
      seen.add(a.id);
      var known = alarms.get(a.id);
      if (!known || known.seq <= a.seq) alarms.set(a.id, a);
    });
    // Drop what the server no longer lists, unless ours is newer than the snapshot itself.
    alarms.forEach(function (a, id) {
      if (!seen.has(id) && (data.seq === undefined || a.seq <= data.seq)) alarms.delete(id);
    });
    snapshotSeen = true;
  }

  // ---- queue rendering --------------------------------------------------------------------
  function order(a, b) {
    return a.priority - b.priority || Date.parse(a.received_at) - Date.parse(b.received_at) || a.id - b.id;
  }

  function sorted(status) {
    var list = [];
    alarms.forEach(function (a) { if (a.status === status) list.push(a); });
    return list.sort(order);
  }

  function escalationText(a) {
    if (a.status !== "open") return ["", ""];
    if (a.escalation_status === "failed") return [S.escalationFailed, "failed"];
    if (a.escalation_due_at) {
      var s = Math.max(0, Math.ceil((Date.parse(a.escalation_due_at) - Date.now()) / 1000));
      var prefix = a.escalation_status === "sent" ? S.escalationSent + " · " : "";
      return [prefix + fmt(S.escalatesIn, { s: s }), ""];
    }
    if (a.escalation_status === "sent") return [S.escalationSent, ""];
    if (a.escalation_status === "not_sent") return [S.escalationNotSent, "failed"];
    return ["", ""];
  }

  function fillItem(item, a) {
    item.dataset.alarmId = String(a.id);
    item.dataset.seq = String(a.seq);
    item.dataset.status = a.status;
    item.className = "alarm p" + a.priority + " " + a.status + (a.is_test ? " test" : "") +
      (a.id === selectedId ? " selected" : "");
    item.querySelector(".type").textContent = S.types[a.type] || a.type;
    item.querySelector(".test-badge").hidden = !a.is_test;
    item.querySelector(".prio").textContent = "P" + a.priority;
    item.querySelector(".status").textContent = S.statuses[a.status] || a.status;
    var age = item.querySelector(".age");
    age.dataset.since = a.received_at;
    age.textContent = ageText(a.received_at);
    var esc = escalationText(a);
    var escNode = item.querySelector(".escalation");
    escNode.textContent = esc[0];
    escNode.className = "escalation " + esc[1];
    var sub = [];
    if (a.case) sub.push(a.case.reference + " · " + a.case.victim.name);
    if (a.late) sub.push(S.late);
    if (a.acknowledged_by) sub.push(fmt(S.acceptedBy, { name: a.acknowledged_by }));
    item.querySelector(".sub").textContent = sub.join(" · ");
    item.querySelector('[data-action="ack"]').hidden = a.status !== "open";
  }

  function newItem() {
    return el.template.content.firstElementChild.cloneNode(true);
  }

  function renderList(container, list) {
    var existing = new Map();
    Array.prototype.forEach.call(container.querySelectorAll(".alarm"), function (n) {
      existing.set(Number(n.dataset.alarmId), n);
    });
    var wanted = list.map(function (a) {
      var item = existing.get(a.id);
      // Server-rendered items (plain forms) are replaced once by script-rendered ones.
      if (!item || !item.querySelector(".escalation")) {
        var fresh = newItem();
        if (item) item.replaceWith(fresh);
        item = fresh;
      }
      if (Number(item.dataset.seq) !== a.seq || item.dataset.status !== a.status ||
          !item.dataset.alarmId) {
        fillItem(item, a);
      } else {
        item.classList.toggle("selected", a.id === selectedId);
      }
      existing.delete(a.id);
      return item;
    });
    existing.forEach(function (n) { n.remove(); });
    // Move nodes only where the order changed, so a focused control keeps its focus.
    wanted.forEach(function (item, i) {
      if (container.children[i] !== item) container.insertBefore(item, container.children[i] || null);
    });
  }

  function render() {
    var open = sorted("open");
    var acked = sorted("acknowledged");
    renderList(el.open, open);
    renderList(el.acked, acked);
    el.openCount.textContent = String(open.length);
    el.ackCount.textContent = String(acked.length);
    el.empty.hidden = open.length > 0;
    var urgent = open.filter(function (a) { return !a.is_test; }).length;
    document.title = (urgent ? "(" + urgent + ") " + S.newAlarm + " - " : "") + baseTitle;
    alarm_sound.update(open);
    if (selectedId !== null) {
      if (alarms.has(selectedId)) renderDetailHead(alarms.get(selectedId));
    }
  }

  var baseTitle = document.title;

  // ---- marks for measuring (bench/console_latency.py reads them) ---------------------------
  function markVisible(ids) {
    ids.forEach(function (id) {
      if (performance.getEntriesByName("alarm-visible-" + id).length === 0) {
        performance.mark("alarm-visible-" + id);
      }
    });
  }

  // ---- sound ------------------------------------------------------------------------------
  var alarm_sound = (function () {
    var ctx = null;
    var enabled = localStorage.getItem("aware.sound") !== "off";
    var timer = null;
    var heardTest = new Set();

    function ensure() {
      if (!enabled) return null;
      if (!ctx) {
        var AC = window.AudioContext || window.webkitAudioContext;
        if (!AC) return null;
        ctx = new AC();
      }
      if (ctx.state === "suspended") ctx.resume();
      return ctx;
    }

    function beep(volume, freq, duration) {
      var c = ensure();
      if (!c || c.state !== "running") return;
      var osc = c.createOscillator();
      var gain = c.createGain();
      osc.type = "square";
      osc.frequency.value = freq;
      gain.gain.value = volume;
      osc.connect(gain).connect(c.destination);
      osc.start();
      osc.stop(c.currentTime + duration);
    }

    function label() {
      var blocked = enabled && (!ctx || ctx.state !== "running");
      el.sound.dataset.sound = enabled ? (blocked ? "blocked" : "on") : "off";
      el.sound.textContent = enabled ? (blocked ? S.soundBlocked : S.soundOn) : S.soundOff;
    }

    function update(open) {
      var urgent = open.some(function (a) { return !a.is_test; });
      if (urgent && !timer) {
        beep(0.3, 880, 0.25);
        timer = setInterval(function () { beep(0.3, 880, 0.25); }, 2000);
      } else if (!urgent && timer) {
        clearInterval(timer);
        timer = null;
      }
      // Test alarms: one soft tone each, never repeated.
      open.forEach(function (a) {
        if (a.is_test && !heardTest.has(a.id)) {
          heardTest.add(a.id);
          beep(0.05, 440, 0.15);
        }
      });
      label();
    }

    el.sound.addEventListener("click", function (e) {
      e.stopPropagation();
      if (enabled && ctx && ctx.state === "running") {
        enabled = false;
      } else {
        enabled = true;
        ensure();
      }
      localStorage.setItem("aware.sound", enabled ? "on" : "off");
      setTimeout(label, 50);
    });
    // Browsers allow sound only after a gesture on the page: any click or key unlocks it.
    ["click", "keydown"].forEach(function (type) {
      document.addEventListener(type, function () { ensure(); setTimeout(label, 50); }, true);
    });
    label();
    return { update: update };
  })();

  // ---- API --------------------------------------------------------------------------------
  function api(method, path, body) {
    var opts = {
      method: method,
      headers: { Authorization: "Bearer " + config.token, Accept: "application/json" },
    };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch("/api/v1" + path, opts).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        return { status: resp.status, data: data };
      });
    });
  }

  function conflict(data) {
    var err = data.error || {};
    if (err.alarm) { merge(err.alarm); render(); }
    if (err.alarm && err.alarm.status === "resolved") {
      return fmt(S.resolvedBy, { name: err.by || err.alarm.resolved_by });
    }
    return fmt(S.alreadyBy, { name: err.by, time: localTime(err.at) });
  }

  function acknowledge(id) {
    return api("POST", "/alarms/" + id + "/ack").then(function (r) {
      if (r.status === 200) {
        merge(r.data);
        render();
        refreshFigures();
      } else if (r.status === 409) {
        showNotice(conflict(r.data));
      } else {
        showNotice(fmt(S.failed, { message: (r.data.error || {}).message || r.status }));
      }
      if (selectedId === id) loadDetail(id);
    }, function () { showNotice(fmt(S.failed, { message: S.disconnected })); });
  }

  function resolve(id, outcome) {
    if (!outcome) { showNotice(S.chooseOutcome); return; }
    api("POST", "/alarms/" + id + "/resolve", { outcome: outcome }).then(function (r) {
      if (r.status === 200) {
        merge(r.data);
        render();
        if (selectedId === id) closeDetail();
      } else if (r.status === 409) {
        showNotice(conflict(r.data));
      } else {
        showNotice(fmt(S.failed, { message: (r.data.error || {}).message || r.status }));
      }
    });
  }

  // ---- detail -----------------------------------------------------------------------------
  var map = null;
  var mapLayers = null;

  function fact(label, value) {
    if (value === null || value === undefined || value === "") return;
    el.facts.appendChild(node("span", label));
    el.facts.appendChild(node("span", value));
  }

  // What an alarm counts instead of raising more alarms: a ban's further fixes, a storm's folds.
  function renderCounts(d) {
    if (d.fixes !== undefined) {
      fact(S.fixes, fmt(S.fixCounts, { fixes: d.fixes, exits: d.exits || 0, reentries: d.reentries || 0 }) +
        (d.implausible ? " · " + fmt(S.implausibleCount, { n: d.implausible }) : ""));
    }
    if (d.folded) {
      fact(S.folded, Object.keys(d.folded).map(function (t) {
        return (S.types[t] || t) + " × " + d.folded[t];
      }).join(", "));
    }
  }

  function renderDetailHead(a) {
    el.detailTitle.textContent = (S.types[a.type] || a.type) + " · P" + a.priority +
      (a.is_test ? " · " + S.test : "");
    el.facts.textContent = "";
    fact(S.statuses[a.status] || a.status, a.acknowledged_by ? fmt(S.acceptedBy, { name: a.acknowledged_by }) : "");
    var age = node("span", ageText(a.received_at), "age");
    age.dataset.since = a.received_at;
    el.facts.appendChild(node("span", S.age));
    el.facts.appendChild(age);
    fact(S.receivedAt, localDateTime(a.received_at));
    var device = devices.get(a.id);
    if (device) {
      var d = device.serial + (device.kind === "perpetrator_tracker" ? " (" + S.tracker + ")" : "");
      if (device.battery_pct !== null) d += " · " + S.battery + " " + Math.round(device.battery_pct) + "%";
      if (device.last_seen_at) d += " · " + S.lastSeen + " " + localTime(device.last_seen_at);
      fact(S.device, d);
    } else {
      fact(S.device, a.device_id !== null ? "#" + a.device_id : "");
    }
    if (a.position) {
      var p = a.position;
      var where = p.lat.toFixed(5) + ", " + p.lon.toFixed(5) +
        (p.accuracy_m !== null ? " (±" + Math.round(p.accuracy_m) + " m)" : "");
      if (p.source === "last_known") where += " · " + S.lastKnown + " " + localDateTime(p.at);
      fact(S.position, where);
    } else {
      fact(S.position, S.noPosition);
    }
    if (a.detail && a.detail.distance_m !== undefined) fact(S.distance, Math.round(a.detail.distance_m) + " m");
    renderCounts(a.detail || {});
    var esc = escalationText(a);
    if (esc[0]) fact("", esc[0]);
    renderCase(a.case);
  }

  function renderCase(c) {
    el.card.textContent = "";
    if (!c) { el.card.appendChild(node("p", S.noCase)); return; }
    el.card.appendChild(node("h3", S.case + " " + c.reference + " · " + S.concern + ": " +
      (S.concerns[c.concern] || c.concern || "?")));
    function dl(rows) {
      var list = node("dl");
      rows.forEach(function (r) {
        if (!r[1]) return;
        list.appendChild(node("dt", r[0]));
        list.appendChild(node("dd", r[1]));
      });
      return list;
    }
    el.card.appendChild(node("h4", S.victim));
    el.card.appendChild(dl([["", c.victim.name], [S.phone, c.victim.phone], [S.address, c.victim.address]]));
    if (c.perpetrator && (c.perpetrator.name || c.perpetrator.description || c.perpetrator.vehicle)) {
      el.card.appendChild(node("h4", S.perpetrator));
      el.card.appendChild(dl([["", c.perpetrator.name], ["", c.perpetrator.description],
        [S.vehicle, c.perpetrator.vehicle]]));
    }
    if (c.active_bans && c.active_bans.length) {
      el.card.appendChild(node("h4", S.bans));
      var ul = node("ul");
      c.active_bans.forEach(function (b) {
        ul.appendChild(node("li", (b.kind === "location" ? S.locationBan : S.contactBan) +
          (b.distance_m ? " " + Math.round(b.distance_m) + " m" : "") + " · " + b.legal_basis +
          " · " + S.until + " " + localDateTime(b.valid_until)));
      });
      el.card.appendChild(ul);
    }
  }

  function renderTimeline(entries) {
    el.timeline.textContent = "";
    entries.forEach(function (e) {
      var text = localTime(e.at) + " " + (S.timeline[e.action] || e.action);
      if (e.actor_name) text += " · " + e.actor_name;
      var d = e.detail || {};
      if (e.action === "note" && d.text) text += ": " + d.text;
      if (e.action === "resolved" && d.outcome) text += ": " + (S.outcomes[d.outcome] || d.outcome);
      if (d.channel) text += " · " + d.channel + (d.to ? " " + d.to : "");
      if (d.reason) text += " · " + d.reason;
      if (d.errors && d.errors.length) text += " · " + d.errors[d.errors.length - 1];
      var li = node("li", text);
      if (/failed|not_sent/.test(e.action)) li.className = "failed";
      el.timeline.appendChild(li);
    });
  }

  function drawMap(a, zones) {
    if (!window.L) return;
    if (!map) {
      map = L.map(el.map, { attributionControl: Boolean(config.tileUrl) }).setView([52.1, 5.3], 7);
      if (config.tileUrl) L.tileLayer(config.tileUrl, { maxZoom: 19 }).addTo(map);
      mapLayers = L.featureGroup().addTo(map);
    }
    mapLayers.clearLayers();
    (zones || []).forEach(function (z) {
      var g = z.geometry;
      if (g.type === "Point" && g.radius_m) {
        L.circle([g.coordinates[1], g.coordinates[0]], { radius: g.radius_m, color: "#c40000" }).addTo(mapLayers);
      } else {
        L.geoJSON(g, { style: { color: "#c40000" } }).addTo(mapLayers);
      }
    });
    if (a.position) {
      var ll = [a.position.lat, a.position.lon];
      if (a.position.accuracy_m) {
        L.circle(ll, { radius: a.position.accuracy_m, color: "#0645ad", weight: 1 }).addTo(mapLayers);
      }
      L.circleMarker(ll, { radius: 8, color: "#0645ad", fillOpacity: 0.9 }).addTo(mapLayers);
    }
    map.invalidateSize();
    var bounds = mapLayers.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.3), { maxZoom: 17 });
    else map.setView([52.1, 5.3], 7); // the Netherlands
  }

  function loadDetail(id) {
    Promise.all([api("GET", "/alarms/" + id), api("GET", "/alarms/" + id + "/context")]).then(function (rs) {
      if (selectedId !== id) return;
      var detail = rs[0];
      if (detail.status !== 200) return;
      var context = rs[1].status === 200 ? rs[1].data : { device: null, zones: [] };
      merge(detail.data);
      devices.set(id, context.device);
      renderDetailHead(detail.data);
      renderTimeline(detail.data.timeline || []);
      drawMap(detail.data, context.zones);
    });
  }

  function select(id) {
    selectedId = id;
    el.detail.hidden = false;
    render();
    if (alarms.has(id)) renderDetailHead(alarms.get(id));
    loadDetail(id);
  }

  function closeDetail() {
    selectedId = null;
    el.detail.hidden = true;
    render();
  }

  // ---- events from the page ---------------------------------------------------------------
  document.addEventListener("click", function (e) {
    var target = e.target;
    var item = target.closest(".alarm[data-alarm-id]");
    if (!item) return;
    var id = Number(item.dataset.alarmId);
    var action = target.closest("[data-action]");
    if (action) {
      e.preventDefault();
      if (action.dataset.action === "ack") acknowledge(id);
      else if (action.dataset.action === "resolve") resolve(id, item.querySelector('select[name="outcome"]').value);
      else select(id);
      return;
    }
    if (!target.closest("select, input, textarea, button, a")) select(id);
  });

  // Server-rendered forms (before the first snapshot) submit through the API too.
  document.addEventListener("submit", function (e) {
    var item = e.target.closest(".alarm[data-alarm-id]");
    if (!item) return;
    e.preventDefault();
  });

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key === "a" || e.key === "A") {
      var top = sorted("open")[0];
      if (top) { e.preventDefault(); acknowledge(top.id); }
    } else if (e.key === "Escape" && selectedId !== null) {
      closeDetail();
    }
  });

  el.noteForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = el.noteText.value.trim();
    if (!text || selectedId === null) return;
    var id = selectedId;
    api("POST", "/alarms/" + id + "/notes", { text: text }).then(function (r) {
      if (r.status === 200 || r.status === 201) {
        el.noteText.value = "";
        loadDetail(id);
      } else {
        showNotice(fmt(S.failed, { message: (r.data.error || {}).message || r.status }));
      }
    });
  });

  // ---- shift figures ----------------------------------------------------------------------
  function refreshFigures() {
    api("GET", "/alarms/figures").then(function (r) {
      if (r.status !== 200) return;
      el.shift.textContent = S.shift + ": ";
      var parts = r.data.acceptance;
      if (!parts.some(function (p) { return p.counted; })) {
        el.shift.appendChild(document.createTextNode(S.noFigures));
        return;
      }
      parts.forEach(function (p, i) {
        var span = node("span", fmt(S.within, { s: p.limit_s }) + " " +
          (p.share === null ? "–" : (p.share * 100).toFixed(1) + "%") + " (" + p.within + "/" + p.counted + ")",
          p.met === false ? "missed" : "met");
        span.dataset.limit = String(p.limit_s);
        if (i) el.shift.appendChild(document.createTextNode(" · "));
        el.shift.appendChild(span);
      });
    });
  }

  // ---- ticking ----------------------------------------------------------------------------
  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll(".age[data-since]"), function (n) {
      n.textContent = ageText(n.dataset.since);
    });
    alarms.forEach(function (a) {
      if (a.status === "open" && a.escalation_due_at) {
        var item = document.querySelector('.alarm[data-alarm-id="' + a.id + '"] .escalation');
        if (item) item.textContent = escalationText(a)[0];
      }
    });
  }, 1000);
  setInterval(refreshFigures, 30000);
  refreshFigures();

  // ---- Socket.IO ---------------------------------------------------------------------------
  setConnection("connecting");
  var socket = io("/dispatch", {
    auth: { token: config.token },
    transports: ["websocket"],
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
  });
  socket.on("connect", function () { setConnection("connected"); });
  socket.on("disconnect", function () { setConnection("disconnected"); });
  socket.io.on("reconnect_attempt", function () {
    if (el.connection.dataset.state !== "unauthorized") setConnection("disconnected");
  });
  socket.on("connect_error", function (err) {
    if (err && /unauthorized/.test(err.message || "")) {
      setConnection("unauthorized");
      socket.disconnect();
    } else {
      setConnection("disconnected");
    }
  });
  // Redis down: this server's alarms still arrive, other servers' may not until it is back
  // (the server then sends a fresh snapshot).
  socket.on("service.status", function (data) {
    if (el.degraded) el.degraded.hidden = !(data && data.redis === "down");
  });
  socket.on("alarms.snapshot", function (data, ack) {
    applySnapshot(data);
    render();
    markVisible((data.alarms || []).map(function (a) { return a.id; }));
    if (typeof ack === "function") ack();
    refreshFigures();
    if (selectedId !== null) {
      if (alarms.has(selectedId)) loadDetail(selectedId);
      else closeDetail();
    }
  });
  socket.on("alarm.new", function (alarm, ack) {
    if (merge(alarm)) {
      render();
      markVisible([alarm.id]);
    }
    if (typeof ack === "function") ack();
  });
  socket.on("alarm.updated", function (alarm) {
    if (merge(alarm)) {
      render();
      if (alarm.id === selectedId) {
        if (alarm.status === "resolved") closeDetail();
        else loadDetail(alarm.id);
      }
    }
  });

  window.awareConsole = {
    alarms: alarms,
    snapshotSeen: function () { return snapshotSeen; },
    socket: socket,
  };
})();
