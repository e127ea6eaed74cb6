import { describe, expect, it } from 'vitest';
import { freePorts, type HeldPort } from './azurite.process.js';

/** Hands out the given ports in turn, as a kernel may when a closed port is drawn again. */
function scriptedDraws(ports: number[]): { hold: () => Promise<HeldPort>; released: number[] } {
  const released: number[] = [];
  let next = 0;
  return {
    released,
    hold: async () => {
      const port = ports[next++ % ports.length]!;
      return { port, release: async () => void released.push(port) };
    },
  };
}

describe('freePorts', () => {
  it('table-port-drawn-equal-to-the-queue-port: a draw equal to a chosen, not yet bound port is drawn again', async () => {
    // CI stop 31: Azurite's table port came back equal to its queue port and Azurite died with EADDRINUSE.
    const draws = scriptedDraws([45309, 45310]);
    const [table] = await freePorts(1, { avoid: [45061, 45309], hold: draws.hold });
    expect(table).toBe(45310);
    // Every draw is released, the avoided one included, only after all are drawn.
    expect(draws.released.sort()).toEqual([45309, 45310]);
  });

  it('never returns the same port twice in one call', async () => {
    const draws = scriptedDraws([5000, 5000, 5001, 5002]);
    expect(await freePorts(3, { hold: draws.hold })).toEqual([5000, 5001, 5002]);
  });

  it('gives up with a typed error when no acceptable port comes back', async () => {
    const draws = scriptedDraws([7000]);
    await expect(freePorts(1, { avoid: [7000], hold: draws.hold })).rejects.toMatchObject({ code: 'storage-unavailable' });
    expect(draws.released.length).toBeGreaterThan(0);
  });

  it('draws real, distinct, bindable ports on loopback', async () => {
    const ports = await freePorts(6);
    expect(new Set(ports).size).toBe(6);
    for (const port of ports) expect(port).toBeGreaterThan(0);
  });
});

describe('freePorts below the ephemeral range', () => {
  it('api-port-taken-by-a-port-the-kernel-drew: no drawn port lies in the range the kernel draws from', async () => {
    // A test's API port, drawn from the ephemeral range and bound only after Azurite (its table port) and the index
    // process (its wire server) had bound ports of the kernel's choosing, could be one of them: EADDRINUSE on start.
    const low = Number((await import('node:fs')).readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(1024);
      expect(port).toBeLessThan(low);
    }
  });
});
