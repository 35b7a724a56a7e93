// The ConvNetJS chapter's page (notebooks/18_convnetjs.ipynb, section 8): LeNet training live
// in the browser that shows the notebook, with ConvNetJS loaded into the page and no Node.
// The chapter inlines convnet.js and this file into one HTML output and calls
//   labkitConvnetjsPage(rootId, config)
// with the layer definitions, the Trainer's options and the digits (base64 of uint8 pixels).
// Plain ES2017 and the DOM: no build step, no imports.
"use strict";

function labkitConvnetjsPage(rootId, cfg) {
  const root = document.getElementById(rootId);
  const $ = function (cls) { return root.querySelector("." + cls); };
  const show = function (cls, text) { $(cls).textContent = text; };

  function pixels(b64) {                      // base64 of uint8 pixels -> Uint8Array
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function vol(px, i) {                       // image i (28x28, row-major) -> a 28x28x1 Vol in [0, 1]
    const v = new convnetjs.Vol(28, 28, 1, 0.0);
    for (let k = 0; k < 784; k++) v.w[k] = px[i * 784 + k] / 255;
    return v;
  }

  try {
    if (typeof convnetjs === "undefined") throw new Error("convnet.js did not load into this page");
    const trainPx = pixels(cfg.train_images), testPx = pixels(cfg.test_images);
    const net = new convnetjs.Net();
    net.makeLayers(cfg.layer_defs);           // the chapter's LAYER_DEFS, ConvNetJS's own random start
    const trainer = new convnetjs.Trainer(net, cfg.trainer);
    const n = cfg.train_labels.length, batch = cfg.trainer.batch_size;
    const order = [];
    for (let i = 0; i < n; i++) order.push(i);
    const losses = [];                        // mean loss of each batch
    let seen = 0, batchLoss = 0, busy = 0, paused = false, classified = 0;
    const t0 = performance.now();

    function drawCurve() {
      const c = $("cjs-curve"), g = c.getContext("2d");
      g.clearRect(0, 0, c.width, c.height);
      g.strokeStyle = "#bbb";
      g.strokeRect(0.5, 0.5, c.width - 1, c.height - 1);
      if (losses.length < 2) return;
      const top = Math.max.apply(null, losses);
      g.strokeStyle = "#1f77b4";
      g.beginPath();
      losses.forEach(function (l, i) {
        const x = 4 + (c.width - 8) * i / (losses.length - 1), y = c.height - 4 - (c.height - 8) * l / top;
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    }

    function classify() {                     // the test digits, each with ConvNetJS's prediction
      let right = 0;
      root.querySelectorAll(".cjs-digit").forEach(function (cell, i) {
        net.forward(vol(testPx, i), false);
        const pred = net.getPrediction(), ok = pred === cfg.test_labels[i];
        right += ok ? 1 : 0;
        const label = cell.querySelector(".cjs-pred");
        label.textContent = String(pred);
        label.style.color = ok ? "#2a7" : "#c22";
      });
      show("cjs-test", right + " / " + cfg.test_labels.length);
    }

    function drawDigits() {
      const box = $("cjs-digits");
      cfg.test_labels.forEach(function (label, i) {
        const cell = document.createElement("div");
        cell.className = "cjs-digit";
        cell.style.cssText = "display:inline-block;text-align:center;margin:2px;font:12px monospace";
        const c = document.createElement("canvas");
        c.width = c.height = 28;
        c.style.cssText = "width:42px;height:42px;image-rendering:pixelated;border:1px solid #ddd";
        const img = c.getContext("2d").createImageData(28, 28);
        for (let k = 0; k < 784; k++) {
          const p = 255 - testPx[i * 784 + k];
          img.data[4 * k] = img.data[4 * k + 1] = img.data[4 * k + 2] = p;
          img.data[4 * k + 3] = 255;
        }
        c.getContext("2d").putImageData(img, 0, 0);
        const p = document.createElement("div");
        p.className = "cjs-pred";
        p.textContent = "?";
        cell.appendChild(c);
        cell.appendChild(p);
        box.appendChild(cell);
      });
    }

    function trainOne() {                     // one image; the Trainer updates every batch_size images
      if (seen % n === 0) {                   // a new epoch: a fresh shuffle
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1)), t = order[i];
          order[i] = order[j];
          order[j] = t;
        }
      }
      const i = order[seen % n];
      trainer.learning_rate = cfg.base_lr * Math.pow(1 + cfg.gamma * Math.floor(seen / batch), -cfg.power);
      batchLoss += trainer.train(vol(trainPx, i), cfg.train_labels[i]).cost_loss;
      seen += 1;
      if (seen % batch === 0) {
        losses.push(batchLoss / batch);
        batchLoss = 0;
      }
    }

    function tick() {
      if (paused) return;
      const start = performance.now();
      while (seen < cfg.epochs * n && performance.now() - start < 50) trainOne();
      busy += performance.now() - start;
      const done = seen >= cfg.epochs * n;
      if (losses.length) {
        show("cjs-first", losses[0].toFixed(3));
        const last = losses.slice(-5);
        show("cjs-loss", (last.reduce(function (a, b) { return a + b; }, 0) / last.length).toFixed(3));
      }
      show("cjs-images", String(seen));
      show("cjs-speed", (1000 * seen / busy).toFixed(0));
      drawCurve();
      if (Math.floor(seen / n) > classified || done) {   // after each epoch
        classified = Math.floor(seen / n);
        classify();
      }
      show("cjs-state", done ? "done" : "training");
      if (!done) setTimeout(tick, 0);
      else show("cjs-wall", ((performance.now() - t0) / 1000).toFixed(1));
    }

    $("cjs-pause").onclick = function () {
      paused = !paused;
      this.textContent = paused ? "Resume" : "Pause";
      show("cjs-state", paused ? "paused" : "training");
      if (!paused) tick();
    };
    show("cjs-version", "ConvNetJS in this page, " + net.layers.length + " layers");
    drawDigits();
    classify();
    setTimeout(tick, 0);
  } catch (err) {
    show("cjs-error", "error: " + (err && err.message || err));
  }
}
