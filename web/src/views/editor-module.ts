// The CodeMirror editor module (../editor and CodeMirror itself, a chunk of its own), loaded
// on first use.  The notebook view paints every cell before it needs an editor (code shows as
// plain text until its editor is made: lazy-editors.ts), so neither fetching nor evaluating
// CodeMirror delays the first paint; main.ts starts the load as soon as the page is known
// to be an editor.

export type EditorModule = typeof import("../editor");

let module: EditorModule | null = null;
let loading: Promise<EditorModule> | null = null;

/** The editor module, once loaded (else null: call loadEditor()). */
export function editorModule(): EditorModule | null {
  return module;
}

/** Load the editor module (once; a failed load is tried again by the next call). */
export function loadEditor(): Promise<EditorModule> {
  loading ??= import("../editor").then(
    (loaded) => (module = loaded),
    (error: unknown) => {
      loading = null;
      throw error;
    },
  );
  return loading;
}
