/* climat-koom: live updates of a challenge page or widget, from server-sent events (or by
   polling state.json where EventSource is missing). Text only ever goes in via textContent. */
(function () {
  "use strict";
  var root = document.getElementById("challenge");
  if (!root) {
    return;
  }
  var badge = document.querySelector("[data-live]");
  var lastCount = null;

  function showProof(proof, tier) {
    proof.hidden = !tier.proof && !tier.proof_picture;
    var text = proof.querySelector("[data-proof-text]");
    if (text) {
      setText(text, tier.proof || "");
    }
    var link = proof.querySelector("[data-proof-link]");
    if (link && tier.proof_url) {
      link.setAttribute("href", tier.proof_url);
    }
    var picture = proof.querySelector("[data-proof-picture]");
    if (tier.proof_picture && !picture) {
      picture = document.createElement("img");
      picture.className = "proof-picture";
      picture.setAttribute("data-proof-picture", "");
      picture.setAttribute("alt", tier.proof_picture_alt || "");
      proof.appendChild(picture);
    }
    if (picture && tier.proof_picture && picture.getAttribute("src") !== tier.proof_picture) {
      picture.setAttribute("src", tier.proof_picture);
    }
  }

  function setText(el, value) {
    if (typeof value === "string" && el.textContent !== value) {
      el.textContent = value;
    }
  }

  function renderNews(list, items) {
    var fresh = document.createDocumentFragment();
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = list.getAttribute("data-empty") || "";
      fresh.appendChild(empty);
    }
    items.forEach(function (item) {
      var li = document.createElement("li");
      var time = document.createElement("time");
      time.setAttribute("datetime", item.date);
      time.textContent = item.date_text;
      var text = document.createElement("p");
      text.textContent = item.text;
      li.appendChild(time);
      li.appendChild(text);
      fresh.appendChild(li);
    });
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    list.appendChild(fresh);
  }

  function apply(state) {
    document.querySelectorAll("[data-bind]").forEach(function (el) {
      setText(el, state[el.getAttribute("data-bind")]);
    });
    var status = document.querySelector("[data-bind=status_label]");
    if (status && state.status) {
      status.className = "status status-" + state.status;
    }
    var fill = document.querySelector("[data-bar-fill]");
    if (fill) {
      fill.setAttribute("width", state.bar_percent + "%");
    }
    var bar = document.querySelector("[data-bar]");
    if (bar) {
      bar.setAttribute("aria-valuenow", String(state.count));
    }
    document.querySelectorAll("[data-tick]").forEach(function (tick) {
      var reached = state.count >= Number(tick.getAttribute("data-threshold"));
      tick.classList.toggle("reached", reached);
    });
    (state.tiers || []).forEach(function (tier) {
      var item = document.querySelector('[data-tier="' + tier.id + '"]');
      if (!item) {
        return;
      }
      ["locked", "unlocked", "kept"].forEach(function (name) {
        item.classList.toggle(name, name === tier.status);
      });
      var words = item.querySelector("[data-tier-status]");
      if (words) {
        setText(words, tier.status_text);
      }
      var promise = item.querySelector("[data-sponsor-state]");
      if (promise && tier.sponsor_state) {
        promise.className = "sponsor-state " + tier.sponsor_state;
        setText(promise, tier.sponsor_state_text);
      }
      var proof = item.querySelector("[data-proof]");
      if (proof) {
        showProof(proof, tier);
      }
    });
    var news = document.querySelector("[data-announcements]");
    if (news && state.announcements) {
      var key = JSON.stringify(state.announcements);
      if (news.getAttribute("data-key") !== key) {
        news.setAttribute("data-key", key);
        renderNews(news, state.announcements);
      }
    }
    if (lastCount !== null && lastCount !== state.count) {
      var count = document.getElementById("count");
      if (count) {
        count.classList.remove("bump");
        void count.getBoundingClientRect();
        count.classList.add("bump");
      }
    }
    lastCount = state.count;
    root.setAttribute("data-count", String(state.count));
    document.dispatchEvent(new CustomEvent("koom:state", { detail: state }));
  }

  function setLive(on) {
    if (badge) {
      badge.hidden = !on;
    }
    root.classList.toggle("is-live", on);
  }

  function poll() {
    fetch(root.getAttribute("data-state-url"), { cache: "no-cache" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (state) {
        if (state) {
          apply(state);
        }
      })
      .catch(function () {})
      .then(function () {
        window.setTimeout(poll, 5000);
      });
  }

  var embed = document.querySelector("[data-embed]");
  if (embed) {
    var path = embed.getAttribute("data-embed");
    embed.textContent = embed.textContent.replace(
      'src="' + path + '"',
      'src="' + window.location.origin + path + '"'
    );
  }

  var polling = false;
  if (window.EventSource) {
    var source = new EventSource(root.getAttribute("data-events-url"));
    source.addEventListener("state", function (event) {
      setLive(true);
      apply(JSON.parse(event.data));
    });
    source.addEventListener("gone", function () {
      source.close();
      setLive(false);
    });
    source.addEventListener("error", function () {
      setLive(false); /* the browser reconnects by itself, unless refused (503: too many
                         live viewers), when the page polls the state instead */
      if (source.readyState === EventSource.CLOSED && !polling) {
        polling = true;
        poll();
      }
    });
  } else {
    poll();
  }
})();
