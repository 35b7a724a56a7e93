// The ConvNetJS chapter's Node process (notebooks/18_convnetjs.ipynb): one ConvNetJS net,
// driven from Python over stdin/stdout, one JSON object a line each way.
//
//   request   {"id": 3, "op": "forward", ...}
//   reply     {"id": 3, "ok": true, ...}   or   {"id": 3, "ok": false, "error": "..."}
//
// Arrays travel as base64 of little-endian bytes: images as float32 in ConvNetJS's own
// Vol order (channels last: index ((sx * y) + x) * depth + d), logits as float64.
// Weights travel as the JSON that Net.toJSON() writes and Net.fromJSON() reads.
// labkit/node.py starts this file and speaks the protocol; it runs on Node 12 or newer,
// so it uses nothing newer than ES2017.
"use strict";

const readline = require("readline");

let convnetjs;
try {
  convnetjs = require("convnetjs");
} catch (err) {
  process.stdout.write(JSON.stringify({ id: 0, ok: false, error:
    "ConvNetJS is not installed next to this worker (" + __dirname + "/node_modules): " +
    "run `make setup`, or `npm ci` in " + __dirname }) + "\n");
  process.exit(3);
}

let net = null;        // the one net this process holds
let history = [];      // Caffe's momentum history, one Float64Array per parameter blob
let trainer = null;    // convnetjs.Trainer, made on its first use

function decode(b64, Type) {
  const buf = Buffer.from(b64, "base64");
  const copy = new ArrayBuffer(buf.length);             // aligned, unlike a pooled Buffer
  new Uint8Array(copy).set(buf);
  return new Type(copy);
}

function encode(typed) {
  return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString("base64");
}

// n images, already in Vol order (channels last), into n Vols.
function toVols(msg) {
  const shape = msg.shape;                              // [n, sy, sx, depth]
  const flat = decode(msg.x, Float32Array);
  const size = shape[1] * shape[2] * shape[3];
  if (flat.length !== shape[0] * size) {
    throw new Error("got " + flat.length + " numbers for images of shape " + JSON.stringify(shape));
  }
  const vols = [];
  for (let i = 0; i < shape[0]; i++) {
    const v = new convnetjs.Vol(shape[2], shape[1], shape[3], 0.0);
    for (let k = 0; k < size; k++) v.w[k] = flat[i * size + k];
    vols.push(v);
  }
  return vols;
}

function needNet() {
  if (net === null) throw new Error("no net yet: send 'build' (layer definitions) first");
  return net;
}

// The layer whose output is the logits: the last fc, the one the softmax layer sits on.
function logitsLayer() {
  const layers = needNet().layers;
  const last = layers[layers.length - 1];
  if (last.layer_type !== "softmax") throw new Error("the net does not end in a softmax layer");
  return layers[layers.length - 2];
}

function describe() {
  return net.layers.map(function (L) {
    const n = L.getParamsAndGrads().reduce(function (s, pg) { return s + pg.params.length; }, 0);
    return { type: L.layer_type, out: [L.out_sy, L.out_sx, L.out_depth], params: n };
  });
}

// ConvNetJS's own backward, image by image: each layer adds into its parameters' .dw,
// so after the loop they hold the gradient summed over the batch. Returns the mean loss.
function forwardBackward(vols, labels) {
  let loss = 0;
  for (let i = 0; i < vols.length; i++) {
    net.forward(vols[i], true);
    loss += net.backward(labels[i]);
  }
  return loss / vols.length;
}

// --- caffe-update (the chapter shows this function) ---
// One step of Caffe's SGD on the gradients ConvNetJS's backward left in .dw:
//   history = momentum * history + lr * (gradient + decay * w);   w = w - history
// with the gradient the batch mean (.dw holds the sum over n images), and every blob,
// biases included, decayed alike (the workbook's Recipe). momentum 0 and decay 0 is plain SGD.
function caffeUpdate(n, lr, momentum, decay) {
  const blobs = net.getParamsAndGrads();
  if (history.length !== blobs.length) {
    history = blobs.map(function (b) { return new Float64Array(b.params.length); });
  }
  for (let i = 0; i < blobs.length; i++) {
    const w = blobs[i].params, g = blobs[i].grads, h = history[i];
    for (let j = 0; j < w.length; j++) {
      h[j] = momentum * h[j] + lr * (g[j] / n + decay * w[j]);
      w[j] -= h[j];
      g[j] = 0.0;                                   // ConvNetJS accumulates: start afresh
    }
  }
}
// --- end caffe-update ---

const OPS = {
  hello: function () {
    return { node: process.versions.node, convnetjs: require("convnetjs/package.json").version };
  },
  build: function (msg) {
    net = new convnetjs.Net();
    net.makeLayers(msg.defs);
    history = [];
    trainer = null;
    return { layers: describe() };
  },
  load: function (msg) {
    const want = needNet().layers.map(function (L) { return L.layer_type; });
    const got = msg.net.layers.map(function (L) { return L.layer_type; });
    if (want.join() !== got.join()) {
      throw new Error("the JSON's layers (" + got.join(", ") + ") are not the net's (" + want.join(", ") + ")");
    }
    net.fromJSON(msg.net);
    history = [];
    trainer = null;
    return { layers: describe() };
  },
  "export": function () {
    // JSON.stringify writes a Float64Array as {"0": .., "1": ..}: send plain arrays instead
    return { net: JSON.parse(JSON.stringify(needNet().toJSON(), function (k, v) {
      return ArrayBuffer.isView(v) ? Array.from(v) : v;
    })) };
  },
  forward: function (msg) {
    const vols = toVols(msg);
    const L = logitsLayer();
    const k = L.out_depth;
    const out = new Float64Array(vols.length * k);
    for (let i = 0; i < vols.length; i++) {
      net.forward(vols[i], false);
      out.set(L.out_act.w, i * k);
    }
    return { logits: encode(out), shape: [vols.length, k] };
  },
  // Caffe's rule (plain SGD when momentum and decay are 0), on ConvNetJS's gradients.
  step: function (msg) {
    needNet();
    const vols = toVols(msg);
    const loss = forwardBackward(vols, msg.y);
    caffeUpdate(vols.length, msg.lr, msg.momentum || 0, msg.decay || 0);
    return { loss: loss };
  },
  // ConvNetJS's own Trainer, as a ConvNetJS user writes it: one train(x, y) per image; it
  // updates the weights every batch_size images.
  trainer_step: function (msg) {
    needNet();
    if (trainer === null) trainer = new convnetjs.Trainer(net, msg.options);
    trainer.learning_rate = msg.lr;
    const vols = toVols(msg);
    let loss = 0;
    for (let i = 0; i < vols.length; i++) loss += trainer.train(vols[i], msg.y[i]).cost_loss;
    return { loss: loss / vols.length };
  },
};

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", function (line) {
  if (!line.trim()) return;
  let msg = { id: null };
  let reply;
  try {
    msg = JSON.parse(line);
    const op = OPS[msg.op];
    if (!op) throw new Error("unknown op " + JSON.stringify(msg.op) + "; known: " + Object.keys(OPS).join(", "));
    reply = op(msg);
    reply.id = msg.id;
    reply.ok = true;
  } catch (err) {
    reply = { id: msg.id, ok: false, error: String(err && err.message || err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
rl.on("close", function () { process.exit(0); });
