// The network between each service replica and what it talks to, when a fault file runs it through
// Toxiproxy: one proxy per replica and peer (Redis, MongoDB, the outside parties the simulator
// plays), so a fault can slow, cut or reset every link, or one worker replica's link alone. A
// replica started again in the same slot gets the same proxies, as a pod keeps its network.
import type { Simulator } from '@fortellis-admin/simulator';
import type { FaultProxy, Toxiproxy } from '@fortellis-admin/test-support';

export type Peer = 'redis' | 'mongo' | 'parties';

/** `host:port` of a URL. */
const hostOf = (url: string): string => new URL(url).host;

export class ServiceLinks {
  readonly #toxiproxy: Toxiproxy;
  readonly #upstreams: Record<Peer, string>;
  readonly #sim: Simulator;
  readonly #slots = new Map<string, Map<Peer, FaultProxy>>();

  constructor(toxiproxy: Toxiproxy, sim: Simulator, upstreams: { redis: string; mongo: string }) {
    this.#toxiproxy = toxiproxy;
    this.#sim = sim;
    this.#upstreams = {
      redis: hostOf(upstreams.redis),
      mongo: hostOf(upstreams.mongo),
      parties: hostOf(sim.url),
    };
  }

  /**
   * The environment that sends a replica's Redis, MongoDB and outside calls through its proxies.
   * The issuer stays the simulator's own: it is a name the tokens carry, not an address called.
   */
  async envFor(slot: string): Promise<Record<string, string>> {
    const redis = await this.#proxy(slot, 'redis');
    const mongo = await this.#proxy(slot, 'mongo');
    const parties = await this.#proxy(slot, 'parties');
    const simEnv = Object.fromEntries(
      Object.entries(this.#sim.env()).map(([name, value]) => [
        name,
        name === 'FORTELLIS_ISSUER'
          ? value
          : value.replaceAll(this.#sim.url, `http://${parties.listen}`),
      ]),
    );
    return {
      ...simEnv,
      REDIS_URL: `redis://${redis.listen}`,
      MONGODB_URL: `mongodb://${mongo.listen}/`,
    };
  }

  /** The proxy of one slot's link to `peer` (`approval-worker#0`, say). */
  link(slot: string, peer: Peer): FaultProxy {
    const proxy = this.#slots.get(slot)?.get(peer);
    if (proxy === undefined) throw new Error(`no link from ${slot} to ${peer}`);
    return proxy;
  }

  /** Every link (to `peer`, or to any), of every slot started so far. */
  all(peer?: Peer): FaultProxy[] {
    return [...this.#slots.values()].flatMap((links) =>
      [...links.entries()].filter(([p]) => peer === undefined || p === peer).map(([, l]) => l),
    );
  }

  /** Removes every toxic: the network is whole again. */
  reset(): Promise<void> {
    return this.#toxiproxy.reset();
  }

  stop(): Promise<void> {
    return this.#toxiproxy.stop();
  }

  async #proxy(slot: string, peer: Peer): Promise<FaultProxy> {
    const links = this.#slots.get(slot) ?? new Map<Peer, FaultProxy>();
    this.#slots.set(slot, links);
    const existing = links.get(peer);
    if (existing !== undefined) return existing;
    const proxy = await this.#toxiproxy.proxy(`${slot}-${peer}`, this.#upstreams[peer]);
    links.set(peer, proxy);
    return proxy;
  }
}
