import type { TextStream } from './context.js';

/** A text sink for tests (not a test itself): collects what a command writes. */
export class CapturedStream implements TextStream {
  text = '';
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}
