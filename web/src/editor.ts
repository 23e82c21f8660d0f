// CodeMirror 6 editors for cells: Python highlighting, bracket matching, completion from the
// kernel (`complete` -> `completion-result`), notebook key bindings.
import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
  type Completion,
  type CompletionContext,
  type CompletionResult,
  completionKeymap,
} from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { EditorSelection, EditorState, type Extension } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  placeholder as placeholderExt,
} from "@codemirror/view";
import { classHighlighter } from "@lezer/highlight";
import type { CompletionResult as KernelCompletionResult } from "./protocol.generated";

export interface EditorOptions {
  parent: HTMLElement;
  doc: string;
  language: "python" | "markdown";
  label: string;
  readOnly?: boolean;
  placeholder?: string;
  onChange(doc: string): void;
  /** Shift-Enter: run and go to the next cell. */
  onRunAdvance(): void;
  /** Ctrl/Cmd-Enter: run, stay. */
  onRun(): void;
  /** Escape: leave the editor (command mode). */
  onEscape(): void;
  onFocus?(): void;
  onBlur?(): void;
  /** Kernel completion; `cursor` and the result's `start` are code-point offsets. */
  complete?(code: string, cursor: number): Promise<KernelCompletionResult | null>;
}

/** UTF-16 offset -> Python code-point offset. */
function toCodePoints(text: string, offset: number): number {
  let count = 0;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < offset) i++;
    count++;
  }
  return count;
}

/** Python code-point offset -> UTF-16 offset. */
function toUtf16(text: string, points: number): number {
  let i = 0;
  for (let n = 0; n < points && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return i;
}

const KIND_TYPES: Record<string, string> = {
  function: "function",
  method: "method",
  class: "class",
  module: "namespace",
  instance: "variable",
  statement: "variable",
  keyword: "keyword",
  param: "variable",
  property: "property",
  path: "text",
};

function kernelCompletions(options: EditorOptions) {
  return async (context: CompletionContext): Promise<CompletionResult | null> => {
    if (!options.complete) return null;
    const word = context.matchBefore(/[\w.]*$/);
    if (!context.explicit && (!word || word.from === word.to)) return null;
    const doc = context.state.doc.toString();
    const result = await options.complete(doc, toCodePoints(doc, context.pos));
    if (!result || context.aborted || !result.completions?.length) return null;
    const from = toUtf16(doc, result.start ?? 0); // an omitted field has its default, 0
    const completions: Completion[] = result.completions.map((c) => ({
      label: c.name,
      type: KIND_TYPES[c.kind ?? ""] ?? c.kind,
      detail: c.signature || undefined,
      info: c.doc || undefined,
    }));
    return { from: Math.min(from, context.pos), options: completions, validFor: /^\w*$/ };
  };
}

export function createEditor(options: EditorOptions): EditorView {
  const notebookKeys = keymap.of([
    { key: "Shift-Enter", run: () => (options.onRunAdvance(), true) },
    { key: "Mod-Enter", run: () => (options.onRun(), true) },
    { key: "Escape", run: () => (options.onEscape(), true) },
  ]);
  const extensions: Extension[] = [
    notebookKeys,
    lineNumbers(),
    highlightActiveLineGutter(),
    history(),
    drawSelection(),
    indentUnit.of("    "),
    EditorState.tabSize.of(4),
    indentOnInput(),
    bracketMatching(),
    closeBrackets(),
    highlightActiveLine(),
    syntaxHighlighting(classHighlighter),
    keymap.of([...closeBracketsKeymap, ...completionKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
    EditorView.lineWrapping,
    EditorView.contentAttributes.of({ "aria-label": options.label }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) options.onChange(update.state.doc.toString());
      if (update.focusChanged) {
        if (update.view.hasFocus) options.onFocus?.();
        else options.onBlur?.();
      }
    }),
  ];
  if (options.language === "python") {
    extensions.push(python(), autocompletion({ override: [kernelCompletions(options)], activateOnTyping: true }));
  }
  if (options.placeholder) extensions.push(placeholderExt(options.placeholder));
  if (options.readOnly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
  return new EditorView({
    parent: options.parent,
    state: EditorState.create({ doc: options.doc, extensions }),
  });
}

/** Replace an editor's text (from outside: another tab, a snapshot) keeping the cursor if it can. */
export function setEditorText(view: EditorView, text: string): void {
  const current = view.state.doc.toString();
  if (current === text) return;
  const head = Math.min(view.state.selection.main.head, text.length);
  view.dispatch({ changes: { from: 0, to: current.length, insert: text }, selection: EditorSelection.cursor(head) });
}

/** Put the cursor at the start of a 1-based line and focus. */
export function revealLine(view: EditorView, line: number): void {
  const n = Math.max(1, Math.min(line, view.state.doc.lines));
  const pos = view.state.doc.line(n).from;
  view.dispatch({ selection: EditorSelection.cursor(pos), scrollIntoView: true });
  view.focus();
}
