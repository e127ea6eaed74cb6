import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * Static files only: everything the app needs (code, styles, the Natural Earth
 * basemap) is bundled into dist/, hashed under assets/, and served beside /api
 * by the local host (or the Function app in Azure). Nothing is fetched from
 * another origin at run time.
 */
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2048,
    assetsInlineLimit: 0,
  },
  server: {
    // `npx vite` in packages/web during development: the API of a running `npm start`.
    proxy: { '/api': 'http://127.0.0.1:7071', '/app-config.json': 'http://127.0.0.1:7071', '/auth': 'http://127.0.0.1:7071' },
  },
});
