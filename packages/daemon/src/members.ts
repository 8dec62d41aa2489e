/**
 * The group members this node is connected to, by peer ID, with the names
 * they gave in the sync handshake: joining and leaving are logged once.
 */
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'

export interface MembersInit {
  log: Logger
  /** A member connected that was not connected before. */
  joined: (peer: PeerId, name: string) => void
}

export class Members extends Map<string, string> {
  private readonly init: MembersInit

  constructor (init: MembersInit) {
    super()
    this.init = init
  }

  /** `peer` showed itself a member named `name`. */
  connected (peer: PeerId, name: string): void {
    const isNew = !this.has(peer.toString())
    this.set(peer.toString(), name)
    if (!isNew) return
    this.init.log.info({ peer: peer.toString(), peerName: name }, 'group member connected')
    this.init.joined(peer, name)
  }

  /** `peer`'s last connection closed. */
  disconnected (peer: PeerId): void {
    const name = this.get(peer.toString())
    if (name == null) return
    this.delete(peer.toString())
    this.init.log.info({ peer: peer.toString(), peerName: name }, 'group member disconnected')
  }
}
