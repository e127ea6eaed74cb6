import { app } from '@azure/functions';
import { FUNCTIONS } from '@exhibit/runtime';
import { defaultHost } from './app-instance.js';
import { registerFunctions } from './register.js';

/**
 * The Azure Functions entry point (package.json "main" → dist/main.js). Every
 * function comes from the runtime's table; this file only wires triggers.
 * HTTP streaming lets downloads flow from Blob Storage without buffering.
 */
app.setup({ enableHttpStream: true });
registerFunctions(app, FUNCTIONS, defaultHost());
