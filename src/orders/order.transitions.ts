import type { OrderStatus } from '../db/schema.ts'
import { AppError } from '../errors.ts'

export type OrderAction = 'pay' | 'ship' | 'deliver' | 'cancel'

interface Transition {
  from: readonly OrderStatus[]
  to: OrderStatus
  event: 'order.paid' | 'order.shipped' | 'order.delivered' | 'order.cancelled'
  /** the timestamp column the transition sets */
  stamp: 'paid_at' | 'shipped_at' | 'delivered_at' | 'cancelled_at'
}

/**
 * The order state machine: pending → paid → shipped → delivered, and cancel
 * from pending or paid (a shipped order is on its way; cancelling it would
 * restock goods the store no longer has).
 */
export const TRANSITIONS: Record<OrderAction, Transition> = {
  pay: { from: ['pending'], to: 'paid', event: 'order.paid', stamp: 'paid_at' },
  ship: { from: ['paid'], to: 'shipped', event: 'order.shipped', stamp: 'shipped_at' },
  deliver: { from: ['shipped'], to: 'delivered', event: 'order.delivered', stamp: 'delivered_at' },
  cancel: { from: ['pending', 'paid'], to: 'cancelled', event: 'order.cancelled', stamp: 'cancelled_at' },
}

export class InvalidTransitionError extends AppError {
  constructor(action: OrderAction, current: OrderStatus) {
    const allowed = TRANSITIONS[action].from.join(' or ')
    super(409, 'INVALID_TRANSITION', `Cannot ${action} an order that is ${current} (only one that is ${allowed})`, {
      current_status: current,
    })
  }
}
