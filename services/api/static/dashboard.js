// The live dashboard: asks /dashboard/data every REFRESH_MS and shows the answer. Each
// number has a data-testid naming what it counts. Everything is set as text, never as
// markup: a dead letter's error may quote whatever record a consumer could not read.
"use strict";

const REFRESH_MS = 2000;
const TIMEOUT_MS = 5000;
const LAG_POINTS = 90; // three minutes of refreshes
const SVG = "http://www.w3.org/2000/svg";
const lagHistory = [];
let lastAnswer = null;

function byTestId(id) {
  return document.querySelector(`[data-testid="${id}"]`);
}

function element(tag, text, attributes = {}, namespace = null) {
  const made = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
  if (text !== null) made.textContent = text;
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  return made;
}

// One row per item: [text, testid or null, extra class or null] for each cell.
function fillTable(testid, items, toCells, empty) {
  const body = byTestId(testid).tBodies[0];
  const rows = items.map((item) => {
    const row = element("tr", null);
    toCells(item).forEach(([text, id, kind], index) => {
      const attributes = id ? { "data-testid": id } : {};
      if (kind) attributes.class = kind;
      const tag = index === 0 ? "th" : "td";
      if (index === 0) attributes.scope = "row";
      row.append(element(tag, text, attributes));
    });
    return row;
  });
  if (rows.length === 0) {
    const columns = byTestId(testid).tHead.rows[0].cells.length;
    rows.push(element("tr", null));
    rows[0].append(element("td", empty, { colspan: String(columns), class: "note" }));
  }
  body.replaceChildren(...rows);
}

function drawBars(svg, counts, label) {
  const width = 300, height = 80, most = Math.max(1, ...counts);
  const step = width / Math.max(1, counts.length);
  svg.replaceChildren(element("title", label, {}, SVG));
  counts.forEach((count, index) => {
    const tall = (count / most) * (height - 2);
    const bar = element("rect", null, {
      x: String(index * step + 1), y: String(height - tall), width: String(Math.max(1, step - 2)),
      height: String(tall), class: "bar",
    }, SVG);
    bar.append(element("title", `${count} orders`, {}, SVG));
    svg.append(bar);
  });
  svg.setAttribute("aria-label", label);
}

function drawLine(svg, values, label) {
  const width = 300, height = 60, most = Math.max(1, ...values);
  const step = width / Math.max(1, LAG_POINTS - 1);
  const points = values.map((value, index) => `${index * step},${height - 1 - (value / most) * (height - 2)}`);
  svg.replaceChildren(element("title", label, {}, SVG));
  svg.append(element("polyline", null, { points: points.join(" "), class: "line" }, SVG));
  svg.setAttribute("aria-label", label);
}

function showOrders(orders) {
  const items = orders ? orders.by_status : [];
  fillTable("orders", items, (row) => [[row.status, null], [String(row.orders), `orders-${row.status}`, "number"]],
    "unavailable");
  byTestId("orders-total").textContent = orders ? String(orders.total) : "unavailable";
}

function showThroughput(throughput) {
  byTestId("throughput").textContent = throughput ? throughput.per_second.toFixed(2) : "unavailable";
  const chart = byTestId("throughput-chart");
  if (!throughput) {
    chart.replaceChildren();
    chart.setAttribute("aria-label", "unavailable");
    return;
  }
  byTestId("bucket-seconds").textContent = String(throughput.bucket_seconds);
  const buckets = throughput.buckets;
  const label = `Orders placed per ${throughput.bucket_seconds} s: at most ${Math.max(0, ...buckets)},`
    + ` ${buckets[buckets.length - 1] ?? 0} in the latest`;
  drawBars(chart, buckets, label);
}

function showLag(data) {
  const relayUnavailable = data.unavailable.includes("relay_lag") ? "unavailable" : "no context";
  fillTable("relay-lag", data.relay_lag,
    (lag) => [[lag.context, null], [String(lag.events), `relay-lag-${lag.context}`, "number"]], relayUnavailable);
  fillTable("consumer-lag", data.consumer_lag,
    (lag) => [[lag.group, null], [String(lag.records), `consumer-lag-${lag.group}`, "number"]],
    "no process reports one (see Processes: is ORDERS_METRICS_URLS set?)");
  const total = data.relay_lag.reduce((sum, lag) => sum + lag.events, 0)
    + data.consumer_lag.reduce((sum, lag) => sum + lag.records, 0);
  lagHistory.push(total);
  if (lagHistory.length > LAG_POINTS) lagHistory.shift();
  drawLine(byTestId("lag-chart"), lagHistory, `Total lag now ${total}, at most ${Math.max(...lagHistory)} since this page opened`);
}

function showDuplicates(duplicates) {
  fillTable("duplicates", duplicates,
    (layer) => [[layer.layer, null], [String(layer.absorbed), `duplicates-${layer.layer}`, "number"]], "none");
}

function showDeadLetters(deadLetters) {
  byTestId("dead-letters-open").textContent = deadLetters ? String(deadLetters.open) : "unavailable";
  fillTable("dead-letters", deadLetters ? deadLetters.recent : [], (letter) => [
    [String(letter.id), null, "number"],
    [letter.consumer, null],
    [letter.status, `dead-letter-${letter.id}-status`],
    [new Date(letter.at).toLocaleString(), null],
    [letter.error, null, "error"],
  ], deadLetters ? "none" : "unavailable");
}

function describeReconciliation(data) {
  if (data.unavailable.includes("reconciliation")) return "unavailable";
  const run = data.reconciliation;
  if (!run) return "never run";
  const kinds = Object.entries(run.by_kind).map(([kind, count]) => `${kind} ${count}`).join(", ");
  const when = new Date(run.finished_at).toLocaleString();
  return `Run ${run.run_id}, finished ${when}: ${run.differences} differences${kinds ? ` (${kinds})` : ""},`
    + ` ${run.repaired} repaired`;
}

function showProcesses(processes) {
  const list = byTestId("processes");
  list.replaceChildren(...processes.map((process) => {
    const item = element("li", `${process.name} `);
    item.append(element("span", process.up ? "up" : "down",
      { "data-testid": `process-${process.name}`, class: process.up ? "up" : "down" }));
    return item;
  }));
}

function show(data) {
  showOrders(data.orders);
  showThroughput(data.throughput);
  showLag(data);
  showDuplicates(data.duplicates);
  showDeadLetters(data.dead_letters);
  byTestId("reconciliation").textContent = describeReconciliation(data);
  showProcesses(data.processes);
  document.body.dataset.generatedAt = data.generated_at;
}

// The status line is announced to screen readers, so it changes only with the state; the
// time of the latest answer is beside it.
function say(text, stale) {
  const status = byTestId("connection");
  if (status.textContent !== text) status.textContent = text;
  status.className = stale ? "stale" : "";
}

async function refresh() {
  try {
    const answer = await fetch("/dashboard/data", { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    const data = await answer.json();
    show(data);
    lastAnswer = new Date(data.generated_at);
    const missing = data.unavailable.length ? `; unavailable now: ${data.unavailable.join(", ")}` : "";
    say(`Live, every ${REFRESH_MS / 1000} s${missing}`, missing !== "");
    byTestId("updated").textContent = `(updated ${lastAnswer.toLocaleTimeString()})`;
  } catch (error) {
    say(`No answer from the API (${error.message}); retrying`, true);
    byTestId("updated").textContent = lastAnswer ? `(last answer ${lastAnswer.toLocaleTimeString()})` : "";
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
