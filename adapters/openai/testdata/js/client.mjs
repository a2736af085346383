// Drives the official openai npm client (v6) against the mycelium openai
// client role. realclient_test.go runs it with:
//   OPENAI_BASE_URL  the client role's base URL, ending in /v1
//   OPENAI_API_KEY   the local API key
//   CHAT_MODEL, EMBED_MODEL, EXPECT_TEXT
// It prints one line per check and exits non-zero on the first failure.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
const apiKey = process.env.OPENAI_API_KEY;
const chatModel = process.env.CHAT_MODEL;
const embedModel = process.env.EMBED_MODEL;
const expectText = process.env.EXPECT_TEXT;

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20_000 });
const messages = [{ role: 'user', content: 'Say hello.' }];

// The fake upstream's embedding of input i: (i+1) * 0.125 * (j+1).
const expectedVector = (i) => Array.from({ length: 8 }, (_, j) => (i + 1) * 0.125 * (j + 1));

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (err) {
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
    process.exit(1);
  }
}

await check('models.list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes(chatModel), `models ${ids} lack ${chatModel}`);
  assert.ok(ids.includes(embedModel), `models ${ids} lack ${embedModel}`);
});

await check('models.retrieve', async () => {
  const m = await client.models.retrieve(chatModel);
  assert.equal(m.id, chatModel);
});

await check('chat.completions.create', async () => {
  const c = await client.chat.completions.create({ model: chatModel, messages });
  assert.equal(c.choices[0].message.content, expectText);
  assert.ok(c.usage.total_tokens > 0, 'no usage');
});

await check('chat stream with usage', async () => {
  const stream = await client.chat.completions.create({
    model: chatModel, messages, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, expectText);
  assert.ok(chunks > 3, `only ${chunks} chunks`);
  assert.ok(usage && usage.completion_tokens > 0, 'no usage chunk');
});

await check('chat stream without usage', async () => {
  const stream = await client.chat.completions.create({ model: chatModel, messages, stream: true });
  let text = '';
  for await (const chunk of stream) {
    assert.ok(chunk.choices.length > 0, `unrequested usage chunk: ${JSON.stringify(chunk)}`);
    text += chunk.choices[0].delta?.content ?? '';
  }
  assert.equal(text, expectText);
});

await check('stream abort, then a new request', async () => {
  const stream = await client.chat.completions.create({ model: chatModel, messages, stream: true });
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) {
      stream.controller.abort();
      break;
    }
  }
  const c = await client.chat.completions.create({ model: chatModel, messages });
  assert.equal(c.choices[0].message.content, expectText);
});

await check('completions.create', async () => {
  const c = await client.completions.create({ model: chatModel, prompt: 'Say hello.' });
  assert.equal(c.choices[0].text, expectText);
});

await check('embeddings default (SDK asks for base64 and decodes)', async () => {
  const e = await client.embeddings.create({ model: embedModel, input: ['a', 'b'] });
  assert.equal(e.data.length, 2);
  e.data.forEach((d, i) => assert.deepEqual(Array.from(d.embedding), expectedVector(i)));
});

await check('embeddings float', async () => {
  const e = await client.embeddings.create({ model: embedModel, input: 'a', encoding_format: 'float' });
  assert.deepEqual(e.data[0].embedding, expectedVector(0));
});

await check('embeddings base64', async () => {
  const e = await client.embeddings.create({ model: embedModel, input: 'a', encoding_format: 'base64' });
  assert.equal(typeof e.data[0].embedding, 'string');
  const buf = Buffer.from(e.data[0].embedding, 'base64');
  const floats = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4));
  assert.deepEqual(floats, expectedVector(0));
});

await check('unknown model is a NotFoundError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      return true;
    },
  );
});

await check('wrong key is an AuthenticationError', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.code, 'invalid_api_key');
    return true;
  });
});

console.log('all checks passed');
