/**
 * Threads on a piece of a cell's source: reading the selection from a cell's editor, quoting
 * the range, and marking it in the editor.
 *
 * The server counts a text range in Unicode code points of the cell's source (as Python
 * does); the editor counts UTF-16 code units. The two differ after an emoji or any other
 * character outside the Basic Multilingual Plane, so every offset is converted here.
 */
import { StateEffect, StateField } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView } from '@codemirror/view';
import { Cell } from '@jupyterlab/cells';

import type { IThread } from './api';

/**
 * `[start, end)` in code points of the cell's source.
 */
export interface ITextRange {
  start: number;
  end: number;
}

/**
 * Code points in `text[0, units)`.
 */
export function codePointsIn(text: string, units: number): number {
  let points = 0;
  for (let i = 0; i < units && i < text.length; i++) {
    const c = text.charCodeAt(i);
    // a high surrogate followed by a low one is one code point
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < units) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
      }
    }
    points++;
  }
  return points;
}

/**
 * UTF-16 units of the first `points` code points of `text` (at most its length).
 */
export function unitsFor(text: string, points: number): number {
  let units = 0;
  for (let p = 0; p < points && units < text.length; p++) {
    const c = text.codePointAt(units) ?? 0;
    units += c > 0xffff ? 2 : 1;
  }
  return units;
}

/**
 * The text a range covers in `source` (clamped: the source may have changed since).
 */
export function quote(source: string, range: ITextRange): string {
  return source.slice(
    unitsFor(source, range.start),
    unitsFor(source, range.end)
  );
}

/**
 * The non-empty selection in a cell's editor, as a range of its source; null without one.
 */
export function selectedRange(cell: Cell): ITextRange | null {
  const editor = cell.editor;
  if (!editor) {
    return null;
  }
  const selection = editor.getSelection();
  const a = editor.getOffsetAt(selection.start);
  const b = editor.getOffsetAt(selection.end);
  if (a === b) {
    return null;
  }
  const source = cell.model.sharedModel.getSource();
  return {
    start: codePointsIn(source, Math.min(a, b)),
    end: codePointsIn(source, Math.max(a, b))
  };
}

// -- marks in the editor ----------------------------------------------------------------

interface IMark {
  from: number;
  to: number;
  threadId: string;
}

const setMarks = StateEffect.define<IMark[]>();

const marksField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, tr) {
    marks = marks.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setMarks)) {
        marks = Decoration.set(
          effect.value
            .filter(m => m.to > m.from)
            .map(m =>
              Decoration.mark({
                class: 'mutirao-TextRangeMark',
                attributes: { 'data-thread-id': m.threadId }
              }).range(m.from, m.to)
            ),
          true
        );
      }
    }
    return marks;
  },
  provide: field => EditorView.decorations.from(field)
});

/**
 * Mark the ranges of `threads` (those on this cell with a text range) in the cell's editor;
 * an empty list clears the marks. Does nothing for a cell whose editor is not made yet.
 */
export function markRanges(cell: Cell, threads: IThread[]): void {
  const view = (cell.editor as { editor?: EditorView } | null)?.editor;
  if (!(view instanceof EditorView)) {
    return;
  }
  const text = view.state.doc.toString();
  const marks: IMark[] = [];
  for (const t of threads) {
    if (t.text_range) {
      const from = unitsFor(text, t.text_range.start);
      const to = unitsFor(text, t.text_range.end);
      marks.push({ from, to, threadId: t.id });
    }
  }
  const installed = view.state.field(marksField, false) !== undefined;
  if (!installed && marks.length === 0) {
    return;
  }
  view.dispatch({
    effects: installed
      ? setMarks.of(marks)
      : [StateEffect.appendConfig.of(marksField), setMarks.of(marks)]
  });
}

/**
 * Select a thread's range in its cell's editor (when it has one), to show what it is about.
 */
export function selectRange(cell: Cell, range: ITextRange): void {
  const editor = cell.editor;
  if (!editor) {
    return;
  }
  const source = cell.model.sharedModel.getSource();
  const start = editor.getPositionAt(unitsFor(source, range.start));
  const end = editor.getPositionAt(unitsFor(source, range.end));
  if (start && end) {
    editor.setSelection({ start, end });
  }
}
