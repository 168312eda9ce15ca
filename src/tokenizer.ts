// vlac.tokenizer (api.md §3): the native InternLM2 tokenizer behind a typed facade.
import { callNative, badArgument } from './errors.js';
import { loadNative } from './native.js';

export interface SpecialTokenIds {
  unk: number;
  bos: number;
  eos: number;
  imStart: number;
  imEnd: number;
  img: number;
  imgEnd: number;
  imgContext: number;
}

interface NativeTokenizerHandle {
  encode(text: Uint8Array, bos: boolean): Int32Array;
  decode(ids: Int32Array | number[], skipSpecial: boolean): string;
  idToToken(id: number): string;
  tokenToId(piece: string): number | undefined;
  isSpecial(id: number): boolean;
  readonly vocabSize: number;
  readonly special: SpecialTokenIds;
}

export class Tokenizer {
  readonly #native: NativeTokenizerHandle;
  readonly special: Readonly<SpecialTokenIds>;
  readonly vocabSize: number;

  /** @internal wraps a native tokenizer (the model's own, or one loaded by Tokenizer.load). */
  constructor(native: NativeTokenizerHandle) {
    this.#native = native;
    this.special = Object.freeze({ ...native.special });
    this.vocabSize = native.vocabSize;
  }

  /** Loads tokenizer.model, tokenizer_config.json and added_tokens.json from a checkpoint folder. */
  static async load(modelDir: string): Promise<Tokenizer> {
    if (typeof modelDir !== 'string' || modelDir.length === 0) throw badArgument('modelDir must be a non-empty string');
    const addon = loadNative() as unknown as { NativeTokenizer: new (dir: string) => NativeTokenizerHandle };
    return new Tokenizer(callNative(() => new addon.NativeTokenizer(modelDir)));
  }

  /** Token ids of `text`; special/added tokens spelled in the text are recognized. */
  encode(text: string, opts: { bos?: boolean } = {}): Int32Array {
    if (typeof text !== 'string') throw badArgument('text must be a string');
    return callNative(() => this.#native.encode(Buffer.from(text, 'utf8'), opts.bos === true));
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    if (ids === null || typeof ids !== 'object' || typeof (ids as ArrayLike<number>).length !== 'number')
      throw badArgument('ids must be an Int32Array or an array of token ids');
    const arr = ids instanceof Int32Array ? ids : Array.from(ids as ArrayLike<number>);
    return callNative(() => this.#native.decode(arr as Int32Array | number[], opts.skipSpecial === true));
  }

  idToToken(id: number): string {
    return callNative(() => this.#native.idToToken(id));
  }

  tokenToId(piece: string): number | undefined {
    if (typeof piece !== 'string') throw badArgument('piece must be a string');
    return this.#native.tokenToId(piece);
  }

  isSpecial(id: number): boolean {
    return this.#native.isSpecial(id);
  }
}
