/**
 * Loaded with NODE_OPTIONS="--import <this file>" by `npm run bench -- --cpu-prof`:
 * Node 20 refuses --cpu-prof in NODE_OPTIONS, so the profiler is started
 * through the in-process inspector instead, and the profile is written on
 * exit to $EXHIBIT_BENCH_PROFILE_DIR/<role>-<pid>.cpuprofile. Plain
 * JavaScript so it loads before (and without) the TypeScript loader.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.EXHIBIT_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  // The in-process session answers synchronously, so this also works in an 'exit' handler.
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  // Azurite's entry script, not any argument naming 'azurite' (a checkout path may: /work/wt/azurite-cost).
  const role = /[\\/]azurite[\\/]dist[\\/]src[\\/]azurite\.js$/.test(process.argv[1] ?? '') ? 'azurite' : 'host';
  // Azurite stops on the first SIGTERM with a once-listener; the process group
  // signal and the host's own stop() send two, and the second would kill it
  // before 'exit' (and the profile). Swallowing repeats lets its shutdown finish.
  if (role === 'azurite') process.on('SIGTERM', () => undefined);
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(path.join(dir, `${role}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
