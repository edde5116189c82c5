//! The task that sends the Redis calls of requests arriving together in
//! one pipeline (group commit).
//!
//! Sent one by one on the shared connection, most scripts would go out in a
//! write of their own and come back in a read of their own: per request a
//! system call on each side, a wake-up of Redis and one of this process.
//! [`Pipeliner`] is one task that takes every request waiting for it, sends
//! them as one pipeline (one write, each request still one `EVALSHA`),
//! hands each answer back, and meanwhile the next requests gather. One
//! pipeline is in flight at a time, so under load the batches grow with the
//! round trip and when idle a request goes out at once, alone. Redis runs
//! the scripts in the order of the pipeline, which is the order the
//! requests reached the task.

use crate::redis::conn::RedisConn;
use redis::{Cmd, ErrorKind, RedisError, RedisResult, Script, Value};
use tokio::sync::{mpsc, oneshot};

/// The most requests one pipeline carries.
pub const MAX_BATCH: usize = 256;

/// An `EVALSHA` of `script` over `keys`; its arguments follow with `arg`.
pub fn evalsha(script: &Script, keys: &[&str]) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(keys.len()).arg(keys);
    cmd
}

/// One call: a command — or the commands of one `MULTI` transaction — and
/// for an `EVALSHA` its script (to load it when Redis has forgotten it).
pub struct Call {
    script: Option<&'static Script>,
    /// Sent in this order; the last one's reply is the call's answer.
    cmds: Vec<Cmd>,
}

impl Call {
    /// `script` over `keys`, with `args`.
    pub fn script(script: &'static Script, keys: &[&str], args: impl FnOnce(&mut Cmd)) -> Self {
        let mut cmd = evalsha(script, keys);
        args(&mut cmd);
        Self {
            script: Some(script),
            cmds: vec![cmd],
        }
    }

    /// A plain command.
    pub fn plain(cmd: Cmd) -> Self {
        Self {
            script: None,
            cmds: vec![cmd],
        }
    }

    /// `cmds` as one `MULTI` transaction (Redis runs them with nothing in
    /// between); the answer is `EXEC`'s array of their replies. Plain
    /// commands cost Redis a fraction of a script call.
    pub fn transaction(cmds: impl IntoIterator<Item = Cmd>) -> Self {
        let mut all = vec![redis::cmd("MULTI")];
        all.extend(cmds);
        all.push(redis::cmd("EXEC"));
        Self {
            script: None,
            cmds: all,
        }
    }
}

/// Runs `calls` in one pipelined round trip, in this order. One answer per
/// call, in order; a call's own failure is its answer alone. Script calls
/// that found Redis's script cache empty (`NOSCRIPT`: Redis restarted or
/// `SCRIPT FLUSH`) are sent once more after loading their script, so the
/// scripts sent this way must be safe to run again.
pub async fn run_all(
    redis: &mut RedisConn,
    calls: &[Call],
) -> RedisResult<Vec<RedisResult<Value>>> {
    let mut answers: Vec<Option<RedisResult<Value>>> = vec![None; calls.len()];
    let mut todo: Vec<usize> = (0..calls.len()).collect();
    for attempt in 0..2 {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let mut expected = 0;
        for &i in &todo {
            for cmd in &calls[i].cmds {
                pipe.add_command(cmd.clone());
            }
            expected += calls[i].cmds.len();
        }
        let replies: Vec<RedisResult<Value>> = pipe.query_async(redis).await?;
        if replies.len() != expected {
            return Err(RedisError::from((
                ErrorKind::Parse,
                "the pipeline's reply count does not match its calls",
            )));
        }
        let mut replies = replies.into_iter();
        let mut again = Vec::new();
        for &i in &todo {
            let reply = replies
                .by_ref()
                .take(calls[i].cmds.len())
                .last()
                .expect("every call has a command");
            match reply {
                Err(e)
                    if attempt == 0
                        && calls[i].script.is_some()
                        && e.kind() == ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    again.push(i);
                }
                reply => answers[i] = Some(reply),
            }
        }
        if again.is_empty() {
            break;
        }
        let mut loaded: Vec<&Script> = Vec::new();
        for script in again.iter().filter_map(|&i| calls[i].script) {
            if !loaded.iter().any(|s| s.get_hash() == script.get_hash()) {
                script.load_async(redis).await?;
                loaded.push(script);
            }
        }
        todo = again;
    }
    Ok(answers
        .into_iter()
        .map(|a| a.expect("the second attempt answers every call"))
        .collect())
}

/// One call waiting for its answer.
struct Pending {
    call: Call,
    answer: oneshot::Sender<RedisResult<Value>>,
}

/// Hands calls to the task that sends them (cheap to clone). One is shared
/// by every request handler of the process: the more calls one pipeline
/// carries, the fewer system calls and wake-ups each costs on both sides.
#[derive(Clone)]
pub struct Pipeliner {
    requests: mpsc::UnboundedSender<Pending>,
}

/// Waiting for replicas before answering: after each pipeline, `WAIT
/// replicas timeout_ms`; when fewer replicas confirmed the writes in time,
/// every call of the pipeline is answered with an error instead of its
/// reply (its writes may not survive a failover, so nothing of it is
/// acknowledged; a retry finds the same ticket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitForReplicas {
    pub replicas: u32,
    pub timeout_ms: u64,
}

impl Pipeliner {
    /// Starts the sending task on the current runtime; it ends once every
    /// `Pipeliner` is dropped. `batch_size` observes each pipeline's size.
    pub fn start(redis: RedisConn, batch_size: prometheus::Histogram) -> Self {
        Self::start_waiting(redis, batch_size, None)
    }

    /// [`Self::start`], each pipeline confirmed by replicas when `wait`.
    pub fn start_waiting(
        redis: RedisConn,
        batch_size: prometheus::Histogram,
        wait: Option<WaitForReplicas>,
    ) -> Self {
        let (requests, waiting) = mpsc::unbounded_channel();
        tokio::spawn(send_batches(waiting, redis, batch_size, wait));
        Self { requests }
    }

    /// Runs `call` in the next pipeline and returns its answer.
    pub async fn call(&self, call: Call) -> RedisResult<Value> {
        let (answer, answered) = oneshot::channel();
        let stopped = || {
            RedisError::from((
                ErrorKind::Io,
                "the pipeline sender has stopped (shutting down)",
            ))
        };
        self.requests
            .send(Pending { call, answer })
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// `WAIT`s for `wait.replicas` replicas; an error when fewer confirmed.
async fn replicated(redis: &mut RedisConn, wait: WaitForReplicas) -> RedisResult<()> {
    let confirmed: u32 = redis::cmd("WAIT")
        .arg(wait.replicas)
        .arg(wait.timeout_ms)
        .query_async(redis)
        .await?;
    if confirmed >= wait.replicas {
        Ok(())
    } else {
        Err(RedisError::from((
            ErrorKind::Io,
            "not confirmed by enough Redis replicas in time",
        )))
    }
}

async fn send_batches(
    mut waiting: mpsc::UnboundedReceiver<Pending>,
    mut redis: RedisConn,
    batch_size: prometheus::Histogram,
    wait: Option<WaitForReplicas>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch_size.observe(batch.len() as f64);
        let (calls, answers): (Vec<Call>, Vec<_>) =
            batch.drain(..).map(|p| (p.call, p.answer)).unzip();
        let mut sent = run_all(&mut redis, &calls).await;
        if let (Ok(_), Some(wait)) = (&sent, wait) {
            if let Err(e) = replicated(&mut redis, wait).await {
                sent = Err(e);
            }
        }
        match sent {
            Ok(replies) => {
                for (answer, reply) in answers.into_iter().zip(replies) {
                    // A request whose client went away no longer listens.
                    let _ = answer.send(reply);
                }
            }
            Err(e) => {
                for answer in answers {
                    let _ = answer.send(Err(e.clone()));
                }
            }
        }
    }
}
