// The donation page: Pyodide runs tiesignal's extraction core (core.zip) on the files the
// participant picks; nothing is sent anywhere until they consent, and then only the rows
// they kept, to the study's endpoint (study.json) or as a file they save themselves.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const $ = (id) => document.getElementById(id);
const say = (text) => { $("status").textContent = text; };
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
let pyodide, study, studyJson, preview, previewJson;

async function start() {
  studyJson = await (await fetch("study.json")).text();
  study = JSON.parse(studyJson);
  $("study").textContent = `Donate to ${study.study}`;
  document.title = `Donate to ${study.study}`;
  $("consent-text").textContent = study.consent;
  const started = performance.now();
  pyodide = await loadPyodide({ indexURL: new URL("pyodide/", location.href).href });
  const core = await (await fetch("core.zip")).arrayBuffer();
  pyodide.unpackArchive(core, "zip", { extractDir: "/extract" });
  pyodide.runPython("import sys; sys.path.insert(0, '/extract')");
  pyodide.pyimport("tiesignal.extract.donation");
  window.pyodideSeconds = (performance.now() - started) / 1000;
  for (const id of ["zips", "folder"]) $(id).disabled = false;
  say("Ready. Choose your export.");
}

async function pick(files) {
  if (!files.length) return;
  const started = performance.now();
  say(`Reading ${files.length} file(s)…`);
  await tick();
  const fs = pyodide.FS;
  if (fs.analyzePath("/upload").exists) pyodide.runPython("import shutil; shutil.rmtree('/upload')");
  fs.mkdirTree("/upload");
  for (const file of files) {
    const path = `/upload/${file.webkitRelativePath || file.name}`;
    fs.mkdirTree(path.slice(0, path.lastIndexOf("/")));
    fs.writeFile(path, new Uint8Array(await file.arrayBuffer()));
  }
  say("Extracting your connection requests…");
  await tick();
  const extract = pyodide.pyimport("tiesignal.extract.donation").page_preview;
  previewJson = extract("/upload", studyJson);
  preview = JSON.parse(previewJson);
  show(preview);
  window.extractSeconds = (performance.now() - started) / 1000;
  say(preview.rows.length
    ? `Found ${preview.rows.length} connection requests. Review them below.`
    : "No connection requests found in these files: choose your data export (the zip).");
}

function show(p) {
  const s = p.summary;
  const facts = [
    ["Requests", s.requests], ["Accepted", s.accepted], ["Led to an opportunity", s.opportunities],
    ["Unclear", s.unclear], ["Sent between", s.first ? `${s.first} and ${s.last}` : "none"],
    ["About you, in every row", s.about_you],
  ];
  $("summary").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", k), el("dd", String(v))]));
  $("exports").replaceChildren(...p.exports.map((e) => el("li",
    `${e.export}: ${e.status}${e.status === "used" ? `, ${e.requests} requests` : ""}` +
    (e.problems ? ` (${e.problems})` : ""))));
  const at = Object.fromEntries(p.columns.map((c, i) => [c, i]));
  const yes = (v) => (v ? "yes" : "no");
  const outcome = (r) => r[at.opportunity_unclear] ? "unclear"
    : r[at.opportunity] === null ? "unknown" : yes(r[at.opportunity]);
  $("rows").replaceChildren(...p.rows.map((r, i) => {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.request = r[at.request_id];
    box.setAttribute("aria-label", `Leave out row ${i + 1}`);
    box.addEventListener("change", counted);
    const tr = document.createElement("tr");
    const first = document.createElement("td");
    first.append(box);
    tr.append(first, ...[
      r[at.sender_id].slice(0, 10), r[at.sent_at].slice(0, 10), r[at.note_length],
      yes(r[at.note_mentions_name]), yes(r[at.note_mentions_company]),
      r[at.note_skill_mentions], yes(r[at.accepted]), outcome(r),
    ].map((v) => el("td", String(v))));
    return tr;
  }));
  $("review").hidden = false;
  $("consent-section").hidden = p.rows.length === 0;
  counted();
}

function removed() {
  return [...document.querySelectorAll("#rows input:checked")].map((b) => b.dataset.request);
}

function counted() {
  for (const box of document.querySelectorAll("#rows input")) {
    box.closest("tr").classList.toggle("left-out", box.checked);
  }
  const out = removed().length;
  $("kept").textContent = `${preview.rows.length - out} of ${preview.rows.length} rows will be donated.`;
}

function el(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

async function donate() {
  const make = pyodide.pyimport("tiesignal.extract.donation").page_donation;
  const body = make(previewJson, JSON.stringify(removed()), new Date().toISOString(), studyJson);
  const link = $("copy");
  link.href = URL.createObjectURL(new Blob([body], { type: "application/json" }));
  link.download = `donation-${new Date().toISOString().slice(0, 10)}.json`;
  link.hidden = false;
  $("donate").disabled = true;
  if (!study.endpoint) {
    $("done").textContent = "Your donation file is ready: save it and send it to the study team.";
    link.click();
    return;
  }
  $("done").textContent = "Sending…";
  try {
    const answer = await fetch(study.endpoint, {
      method: "POST", headers: { "Content-Type": "application/json" }, body,
    });
    const reply = await answer.json();
    $("done").textContent = answer.ok
      ? `Thank you: your donation was received (${reply.rows} rows, receipt ${reply.received}).`
      : `The study did not accept it: ${reply.error}. You can save a copy and send it yourself.`;
  } catch (err) {
    $("done").textContent = `Could not reach the study (${err.message}). Save a copy and send it yourself.`;
    $("donate").disabled = false;
  }
}

const picked = (e) => pick([...e.target.files]).catch((err) => say(
  `These files could not be read (${err.message.split("\n").at(-2) || err.message}).`));
$("zips").addEventListener("change", picked);
$("folder").addEventListener("change", picked);
$("consent").addEventListener("change", (e) => { $("donate").disabled = !e.target.checked; });
$("donate").addEventListener("click", donate);
start().catch((err) => say(`The extractor could not start: ${err.message}`));
