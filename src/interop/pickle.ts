// A restricted reader for Python pickles, as small as a PyTorch state_dict needs.
//
// A pickle is a program for a stack machine: most opcodes push values (ints, strings, tuples,
// dicts), and three can run code in Python: GLOBAL/STACK_GLOBAL (look up any importable name),
// REDUCE (call it) and BUILD (set an object's state). This reader runs none of them itself: every
// global goes through `hooks.findClass`, which accepts only the names it knows and throws for any
// other; REDUCE calls `hooks.reduce` with that accepted name; BUILD is allowed on dicts only (an
// OrderedDict's `_metadata`), and its state is ignored. Opcodes outside the list below (NEWOBJ,
// INST, OBJ, EXT*, sets, …) are refused with their name and byte offset. Nothing in a file can
// make it do anything but build plain values.
//
// Values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
// str → string, bytes → Uint8Array, tuple/list → array, dict → Map.

/** A Python global the hooks accepted (`collections.OrderedDict`, `torch.FloatStorage`, …). */
export interface PickleGlobal {
  readonly kind: 'global';
  readonly module: string;
  readonly name: string;
}

export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | Map<unknown, PickleValue> | PickleGlobal | object;

export interface UnpickleHooks {
  /** Accepts a global by returning it, or throws naming it. */
  findClass(module: string, name: string): PickleGlobal;
  /** Resolves a persistent id (PyTorch: a storage reference). */
  persistentLoad(pid: PickleValue): PickleValue;
  /** Calls an accepted global with its arguments. */
  reduce(fn: PickleGlobal, args: PickleValue[]): PickleValue;
}

/** Thrown for anything that is not a readable, allowed pickle; the message names `source`. */
export class PickleError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = 'PickleError';
  }
}

const OPCODE_NAMES: Record<number, string> = {
  0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x69: 'INST', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x50: 'PERSID', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT',
  0x53: 'STRING', 0x56: 'UNICODE', 0x67: 'GET', 0x70: 'PUT', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const MARK = Symbol('mark');

/** Decodes a pickle (protocols 2–5, the opcodes a state_dict uses) with `hooks` deciding every global. */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, source = 'pickle'): PickleValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: (PickleValue | typeof MARK)[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  const fail = (msg: string): never => { throw new PickleError(source, msg); };
  const need = (n: number, what: string) => { if (pos + n > bytes.length) fail(`truncated: ${what} at byte ${pos} needs ${n} bytes, ${bytes.length - pos} remain`); };
  const u8 = () => { need(1, 'an argument'); return bytes[pos++]; };
  const u16 = () => { need(2, 'an argument'); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4, 'an argument'); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4, 'an argument'); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => { need(8, 'an argument'); const v = dv.getBigUint64(pos, true); pos += 8; if (v > BigInt(bytes.length)) fail(`a length of ${v} bytes at byte ${pos - 8} exceeds the file`); return Number(v); };
  const take = (n: number) => { need(n, 'a string or bytes'); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const utf8 = (b: Uint8Array) => new TextDecoder('utf-8', { fatal: false }).decode(b);
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated: a GLOBAL name at byte ${pos} has no end of line`);
    const s = utf8(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) fail(`malformed: the stack is empty at byte ${pos - 1}`);
    return v as PickleValue;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail(`malformed: the stack is empty at byte ${pos - 1}`);
    return v as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail(`malformed: no MARK before byte ${pos - 1}`);
    const items = stack.splice(at) as PickleValue[];
    items.shift();
    return items;
  };
  const asMap = (v: PickleValue, op: string): Map<unknown, PickleValue> => (v instanceof Map ? v : fail(`malformed: ${op} at byte ${pos - 1} on something that is not a dict`));
  const asList = (v: PickleValue, op: string): PickleValue[] => (Array.isArray(v) ? v : fail(`malformed: ${op} at byte ${pos - 1} on something that is not a list`));
  const key = (k: PickleValue): unknown => (Array.isArray(k) ? JSON.stringify(k) : k);
  const getMemo = (i: number): PickleValue => (memo.has(i) ? memo.get(i)! : fail(`malformed: memo entry ${i} read at byte ${pos} was never stored`));
  const isGlobal = (v: PickleValue): v is PickleGlobal => typeof v === 'object' && v !== null && (v as PickleGlobal).kind === 'global';

  for (;;) {
    if (pos >= bytes.length) fail(`truncated: the pickle ends at byte ${pos} without STOP`);
    const at = pos;
    const op = bytes[pos++];
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break;
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; }
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; }
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); asList(top(), 'APPEND').push(v); break; }
      case 0x65: { const items = popMark(); asList(top(), 'APPENDS').push(...items); break; }
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { // DICT
        const items = popMark();
        const m = new Map<unknown, PickleValue>();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(key(items[i]), items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x73: { const v = pop(), k = pop(); asMap(top(), 'SETITEM').set(key(k), v); break; }
      case 0x75: {
        const items = popMark();
        const m = asMap(top(), 'SETITEMS');
        if (items.length % 2) fail(`malformed: SETITEMS at byte ${at} with an odd number of items`);
        for (let i = 0; i < items.length; i += 2) m.set(key(items[i]), items[i + 1]);
        break;
      }
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x8a: case 0x8b: { // LONG1, LONG4: little-endian two's complement
        const n = op === 0x8a ? u8() : u32();
        const b = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8, 'a float'); stack.push(dv.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x58: stack.push(utf8(take(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8(take(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(take(u64()))); break; // BINUNICODE8
      case 0x54: stack.push(new TextDecoder('latin1').decode(take(u32()))); break; // BINSTRING (Python 2)
      case 0x55: stack.push(new TextDecoder('latin1').decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x63: { const module = line(), name = line(); stack.push(hooks.findClass(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`malformed: STACK_GLOBAL at byte ${at} without two strings`);
        stack.push(hooks.findClass(module as string, name as string));
        break;
      }
      case 0x51: stack.push(hooks.persistentLoad(pop())); break; // BINPERSID
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        if (!isGlobal(fn)) fail(`malformed: REDUCE at byte ${at} calls something that is not an allowed global`);
        if (!Array.isArray(args)) fail(`malformed: REDUCE at byte ${at} without an argument tuple`);
        stack.push(hooks.reduce(fn as PickleGlobal, args as PickleValue[]));
        break;
      }
      case 0x62: { // BUILD: only a dict's attributes (OrderedDict._metadata), which a state_dict load does not need
        pop();
        if (!(top() instanceof Map)) fail(`BUILD at byte ${at} sets the state of an object; this reader builds dicts, lists and tensors only`);
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(getMemo(u8())); break; // BINGET
      case 0x6a: stack.push(getMemo(u32())); break; // LONG_BINGET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default: {
        const name = OPCODE_NAMES[op];
        const ch = op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : '';
        fail(`opcode 0x${op.toString(16).padStart(2, '0')}${ch}${name ? ` ${name}` : ''} at byte ${at} is not supported: this reader reads state_dict pickles (dicts, lists, numbers, strings, tensors) only`);
      }
    }
  }
}
