import { describe, expect, it } from 'vitest';
import { parseIso6709 } from './iso6709.js';

describe('parseIso6709', () => {
  it('reads decimal degrees with signs, optional altitude and CRS', () => {
    expect(parseIso6709('+51.5074-000.1278/')).toEqual({ lat: 51.5074, lon: -0.1278 });
    expect(parseIso6709('-33.8688+151.2093+058.000/')).toEqual({ lat: -33.8688, lon: 151.2093, altM: 58 });
    expect(parseIso6709('+40.7128-074.0060-012.5CRSWGS_84/')).toEqual({ lat: 40.7128, lon: -74.006, altM: -12.5 });
    expect(parseIso6709('+00.0000+000.0000/')).toEqual({ lat: 0, lon: 0 });
  });

  it('reads degree-minute and degree-minute-second forms', () => {
    const dm = parseIso6709('+5130.444-00007.668/');
    expect(dm?.lat).toBeCloseTo(51.5074, 4);
    expect(dm?.lon).toBeCloseTo(-0.1278, 4);
    const dms = parseIso6709('-335207.68+1511233.48/');
    expect(dms?.lat).toBeCloseTo(-33.868800, 5);
    expect(dms?.lon).toBeCloseTo(151.209300, 5);
  });

  it('refuses out-of-range and malformed points', () => {
    expect(parseIso6709('+91.0000+000.0000/')).toBeNull();
    expect(parseIso6709('+10.0000+181.0000/')).toBeNull();
    expect(parseIso6709('+5175.00-00007.668/')).toBeNull();
    expect(parseIso6709('51.5074,-0.1278')).toBeNull();
    expect(parseIso6709('')).toBeNull();
    expect(parseIso6709(42)).toBeNull();
  });
});
