// A job's output in its deploy task: lines cut across chunks, batched writes, what the follow
// missed taken from the kept log, and the cap.
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_TASK_LINES, TaskOutput, splitLines, type Follow } from '../../main/launcher/task-output';

function harness() {
  const writes: string[][] = [];
  const out = new TaskOutput({ append: async (_id, lines) => void writes.push(lines), warn: (what, e) => { throw new Error(`${what}: ${String(e)}`); } });
  let sink: Writable | undefined;
  const follow: Follow = async (w) => {
    sink = w;
    return true;
  };
  return { writes, out, follow, sink: () => sink!, all: () => writes.flat() };
}

describe('TaskOutput', () => {
  it('joins lines cut across chunks and writes them in batches, not one write per chunk', async () => {
    const h = harness();
    h.out.start(1, 't', h.follow);
    await Promise.resolve();
    h.sink().write('Collecting fast');
    h.sink().write('api==0.115\nInstalling');
    h.sink().write(' collected packages\r\nDone\n');
    h.sink().end();
    await h.out.finish(1, 't', 'Collecting fastapi==0.115\nInstalling collected packages\nDone\n');
    expect(h.all()).toEqual(['Collecting fastapi==0.115', 'Installing collected packages', 'Done']);
    expect(h.writes.length).toBe(1);
  });

  it('a job that ended before its log was followed: every line comes from the kept log', async () => {
    const h = harness();
    await h.out.finish(2, 't', 'Traceback (most recent call last):\nModuleNotFoundError: No module named x\n');
    expect(h.all()).toEqual(['Traceback (most recent call last):', 'ModuleNotFoundError: No module named x']);
  });

  it('a stream that dropped part-way: the rest comes from the kept log, nothing twice', async () => {
    const h = harness();
    h.out.start(3, 't', h.follow);
    await Promise.resolve();
    h.sink().write('one\ntwo\n');
    h.sink().end();
    await h.out.finish(3, 't', 'one\ntwo\nthree\nfour');
    expect(h.all()).toEqual(['one', 'two', 'three', 'four']);
  });

  it('no pod to follow and no kept log: nothing is written', async () => {
    const h = harness();
    h.out.start(4, 't', async () => false);
    await h.out.finish(4, 't', null);
    expect(h.writes).toEqual([]);
  });

  it(`keeps at most ${MAX_TASK_LINES} lines and says where the rest is`, async () => {
    const h = harness();
    h.out.start(5, 't', h.follow);
    await Promise.resolve();
    const text = Array.from({ length: MAX_TASK_LINES + 10 }, (_, i) => `line ${i}`).join('\n') + '\n';
    h.sink().write(text);
    h.sink().end();
    await h.out.finish(5, 't', text);
    const all = h.all();
    expect(all.length).toBe(MAX_TASK_LINES + 1);
    expect(all[MAX_TASK_LINES - 1]).toBe(`line ${MAX_TASK_LINES - 1}`);
    expect(all[MAX_TASK_LINES]).toMatch(/more output than the task keeps.*job's log has the rest/);
  });

  it('stop() ends the copy: later output is not written', async () => {
    const h = harness();
    h.out.start(6, 't', h.follow);
    await Promise.resolve();
    h.sink().write('ready\n');
    await h.out.stop(6);
    await new Promise((r) => setTimeout(r, 300));
    h.sink().write('after\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.all()).toEqual(['ready']);
  });

  it('splitLines: a final newline makes no empty line; CRLF is trimmed', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a\r\nb\n')).toEqual(['a', 'b']);
    expect(splitLines('a\n\nb')).toEqual(['a', '', 'b']);
  });
});
