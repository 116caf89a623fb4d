// Deterministic, realistic activate payloads: the same seed always gives the same buyers.
import type { ActivateRequest } from '@fortellis-admin/contracts';

/** mulberry32: a small, fast, seedable PRNG; plenty for test data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (random: () => number, length: number): string =>
  Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('');

/** A version-4-shaped GUID from the generator. */
export function seededGuid(random: () => number): string {
  const variant = '89ab'[Math.floor(random() * 4)] ?? '8';
  return `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${variant}${hex(random, 3)}-${hex(random, 12)}`;
}

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;

const DEALER_WORDS = [
  'Super',
  'Prime',
  'Metro',
  'Lakeside',
  'Summit',
  'Capital',
  'Valley',
  'Harbor',
];
const DEALER_KINDS = [
  'Car Dealership',
  'Motors',
  'Auto Group',
  'Toyota',
  'Ford',
  'Honda',
  'Chevrolet',
];
const CITIES = [
  ['Columbus', 'OH', '43235'],
  ['Austin', 'TX', '78757'],
  ['Denver', 'CO', '80202'],
  ['Portland', 'OR', '97201'],
  ['Raleigh', 'NC', '27601'],
] as const;
const APIS = [
  ['v1-appointments', 'Appointments'],
  ['v2-repair-orders', 'Repair Orders'],
  ['v1-parts-inventory', 'Parts Inventory'],
] as const;

/** Generates activate payloads from a seed: `next()` gives the next buyer, in order. */
export class ActivationGenerator {
  readonly #random: () => number;
  #index = 0;
  /** The app every generated buyer subscribes through (one app, many dealers). */
  readonly app: ActivateRequest['appInfo'];

  constructor(seed = 1) {
    this.#random = seededRandom(seed);
    this.app = {
      id: seededGuid(this.#random),
      name: 'Service Scheduler',
      developer: 'Scheduler Apps Inc.',
      contactEmail: 'contact@scheduler-apps.example.com',
      appOrgId: seededGuid(this.#random),
    };
  }

  next(): ActivateRequest {
    const random = this.#random;
    this.#index += 1;
    const n = this.#index;
    const [city, state, zip] = pick(random, CITIES);
    const [apiId, apiName] = pick(random, APIS);
    const dealer = `${pick(random, DEALER_WORDS)} ${pick(random, DEALER_KINDS)} ${n}`;
    const slug = dealer.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    return {
      organizationInfo: {
        id: seededGuid(random),
        name: dealer,
        address: `${100 + Math.floor(random() * 9900)} Main St. ${city}, ${state} ${zip}`,
        countryCode: 'US',
        phoneNumber: `(${200 + Math.floor(random() * 800)}) 555-${String(Math.floor(random() * 10000)).padStart(4, '0')}`,
      },
      appInfo: { ...this.app },
      userInfo: { fortellisId: `buyer${n}@${slug}.example.com` },
      apiInfo: { id: apiId, name: apiName, implementationName: 'Fortellis Spec 8' },
      subscriptionId: seededGuid(random),
      connectionId: seededGuid(random),
    };
  }
}
