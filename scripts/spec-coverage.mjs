#!/usr/bin/env node
// `npm run spec:coverage`: every rule of the requirements checklist is cited by a test title.
//
// The rule IDs (AS-MD-1, RS-401-8, X-CORS-3, PX-1, C-1, ...) come from `scripts/spec-ids.json`,
// the in-repository copy of the IDs in the checklist (`../shared/SPEC-CHECKLIST.md`, which a
// clean clone does not have). A test cites a rule when the ID appears in the title of an `it`,
// `test` or `describe` call (any modifier: `.each(...)`, `.skipIf(...)`, `.concurrent`; not
// `.skip` or `.todo`, which check nothing) in a `*.test.ts` file or in a suite under a `test/` or
// `testing/` folder (the store suites of `@portcullis/core/testing`, the adapter contract, the
// examples' shared suites). Titles are read from the TypeScript syntax tree, so an ID in a comment
// or an assertion does not count. A range in a title, `AS-MD-1..4`, cites each ID in it.
//
// Exit status 1 when an ID is uncited and not in PENDING, when a PENDING ID is cited (remove it
// from the list), or when PENDING names an ID the checklist does not have.
//
// Options:
//   --sync        rewrite scripts/spec-ids.json from the checklist (SPEC_CHECKLIST, or
//                 ../shared/SPEC-CHECKLIST.md from the repository root), then check.
//   --list        print every ID with the titles that cite it.
// Without --sync, a checklist found at that path whose IDs differ from the copy is reported as a
// warning.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const IDS_FILE = join(ROOT, "scripts", "spec-ids.json");
const CHECKLIST = resolve(ROOT, process.env.SPEC_CHECKLIST ?? "../shared/SPEC-CHECKLIST.md");
const args = process.argv.slice(2);

/**
 * Rules no test cites yet, with the reason. This list only shrinks: a new rule gets its test in
 * the change that adds it, and an entry goes once a test cites it (this script then fails until
 * it is removed). Never add an ID here to get CI green.
 */
const PENDING = {
  // Behaviour Portcullis does not have yet.
};

/** A rule ID: upper-case segments, the last one a number (AS-AUTHZ-21, RS-401-8, PX-1, C-1). */
const ID = /\b[A-Z]+(?:-[A-Z0-9]+)*-[0-9]+\b/g;

/** The IDs a title names, with each range (`RS-PRM-1..3`) spelled out. */
function citedIds(title) {
  const ids = new Set();
  for (const m of title.matchAll(new RegExp(`${ID.source}(?:\\.\\.([0-9]+))?`, "g"))) {
    const id = m[0].replace(/\.\.[0-9]+$/, "");
    ids.add(id);
    if (m[1] === undefined) continue;
    const stem = id.replace(/[0-9]+$/, "");
    for (let n = Number(id.slice(stem.length)) + 1; n <= Number(m[1]); n++) ids.add(`${stem}${n}`);
  }
  return ids;
}

/**
 * The IDs the checklist defines, in order, with their heading: a paragraph opening with `**ID**`
 * or a table row opening with `| ID |`.
 */
function parseChecklist(text) {
  const rules = [];
  for (const line of text.split("\n")) {
    const m = /^\*\*([A-Z]+(?:-[A-Z0-9]+)*-[0-9]+)\*\*\s*(.*)$/.exec(line) ?? /^\|\s*([A-Z]+(?:-[A-Z0-9]+)*-[0-9]+)\s*\|(.*)$/.exec(line);
    if (!m) continue;
    const summary = m[2]
      .replace(/^·\s*/, "")
      .split("|")
      .map((s) => s.trim())
      .filter(Boolean)
      .slice(0, 2)
      .join(" · ");
    if (!rules.some((r) => r.id === m[1])) rules.push({ id: m[1], summary });
  }
  return rules;
}

function readIds() {
  if (!existsSync(IDS_FILE)) throw new Error(`${relative(ROOT, IDS_FILE)} is missing: run with --sync`);
  return JSON.parse(readFileSync(IDS_FILE, "utf8")).rules;
}

function sync() {
  if (!existsSync(CHECKLIST)) throw new Error(`--sync: no checklist at ${CHECKLIST} (set SPEC_CHECKLIST)`);
  const rules = parseChecklist(readFileSync(CHECKLIST, "utf8"));
  if (rules.length === 0) throw new Error(`--sync: no rule IDs found in ${CHECKLIST}`);
  const doc = {
    $comment: "Rule IDs of SPEC-CHECKLIST.md, for npm run spec:coverage on a clean clone. Regenerate with npm run spec:coverage -- --sync.",
    rules,
  };
  writeFileSync(IDS_FILE, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`synced ${rules.length} rule IDs from ${CHECKLIST}`);
}

/** The files that hold tests: tracked *.test.ts, and suites under test/ or testing/ folders. */
function testFiles() {
  const out = execFileSync("git", ["ls-files", "-z", "--", "*.ts", "*.mts"], { cwd: ROOT, encoding: "utf8" });
  return out
    .split("\0")
    .filter(Boolean)
    .filter((f) => !f.startsWith("node_modules/") && !f.endsWith(".d.ts"))
    .filter((f) => /\.test\.m?ts$/.test(f) || /(^|\/)(test|testing)\//.test(f));
}

const TEST_FNS = new Set(["it", "test", "describe"]);
const NOT_RUN = new Set(["skip", "todo"]);

/** The root identifier of a callee like `it`, `it.each(table)`, `describe.skipIf(x)`, `test.concurrent`; null when it is not a test call or does not run. */
function testCallee(expr) {
  let e = expr;
  for (;;) {
    if (ts.isIdentifier(e)) return TEST_FNS.has(e.text) ? e.text : null;
    if (ts.isPropertyAccessExpression(e)) {
      if (NOT_RUN.has(e.name.text)) return null;
      e = e.expression;
    } else if (ts.isCallExpression(e)) e = e.expression;
    else return null;
  }
}

/** The literal text of a title argument; the literal parts of a template, so `${name} (AS-MD-1)` counts. */
function titleText(arg) {
  if (!arg) return null;
  if (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg)) return arg.text;
  if (ts.isTemplateExpression(arg)) return [arg.head.text, ...arg.templateSpans.map((s) => s.literal.text)].join(" … ");
  return null;
}

/** Every test title in the repository, with where it is. */
function collectTitles() {
  const titles = [];
  for (const file of testFiles()) {
    const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isCallExpression(node) && testCallee(node.expression)) {
        const title = titleText(node.arguments[0]);
        if (title !== null) {
          const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
          titles.push({ title, where: `${file}:${line + 1}` });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return titles;
}

function main() {
  if (args.includes("--sync")) sync();
  const rules = readIds();
  const known = new Set(rules.map((r) => r.id));
  let failed = false;

  if (!args.includes("--sync") && existsSync(CHECKLIST)) {
    const upstream = parseChecklist(readFileSync(CHECKLIST, "utf8")).map((r) => r.id);
    const added = upstream.filter((id) => !known.has(id));
    const removed = [...known].filter((id) => !upstream.includes(id));
    if (added.length || removed.length) {
      console.warn(
        `warning: ${relative(ROOT, CHECKLIST) || CHECKLIST} differs from scripts/spec-ids.json` +
          `${added.length ? `; new: ${added.join(", ")}` : ""}${removed.length ? `; gone: ${removed.join(", ")}` : ""}` +
          "; run npm run spec:coverage -- --sync",
      );
    }
  }

  const citedBy = new Map(rules.map((r) => [r.id, []]));
  const titles = collectTitles();
  for (const t of titles) {
    for (const id of citedIds(t.title)) citedBy.get(id)?.push(t);
  }

  if (args.includes("--list")) {
    for (const r of rules) {
      const by = citedBy.get(r.id);
      console.log(`${r.id}  ${by.length ? `${by.length} test(s)` : PENDING[r.id] ? "pending" : "UNCITED"}`);
      for (const t of by) console.log(`    ${t.where}  ${t.title}`);
    }
  }

  const uncited = rules.filter((r) => citedBy.get(r.id).length === 0);
  const missing = uncited.filter((r) => !PENDING[r.id]);
  const pending = uncited.filter((r) => PENDING[r.id]);
  const nowCited = Object.keys(PENDING).filter((id) => known.has(id) && citedBy.get(id).length > 0);
  const unknownPending = Object.keys(PENDING).filter((id) => !known.has(id));

  for (const r of missing) console.error(`uncited: ${r.id}  ${r.summary}`);
  for (const id of nowCited) {
    console.error(`pending but cited: ${id} (${citedBy.get(id)[0].where}); remove it from PENDING in scripts/spec-coverage.mjs`);
  }
  for (const id of unknownPending) console.error(`pending but not in the checklist: ${id}; remove it from PENDING`);
  failed = missing.length > 0 || nowCited.length > 0 || unknownPending.length > 0;

  const cited = rules.length - uncited.length;
  console.log(
    `${cited}/${rules.length} rule IDs cited by ${titles.length} test titles; ` +
      `${pending.length} pending (${pending.map((r) => r.id).join(", ") || "none"}); ${missing.length} uncited`,
  );
  process.exit(failed ? 1 : 0);
}

main();
