#!/usr/bin/env node
// Runs the TypeScript entry through tsx's ESM loader hooks (what `node --import tsx`
// does), so `npx exhibit …` works in the workspace without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main();
