//! The client against small servers on loopback: keep-alive, reconnects,
//! answers in pieces, chunked or ending at the close, garbled answers,
//! event streams, refused connections and the base path prefix.

use super::*;
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Reads one request head (and a body of its Content-Length); returns
/// the head, or `None` at end of stream.
async fn read_request(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.ok()?;
    head.push_str(&String::from_utf8(body).unwrap());
    Some(head)
}

/// A server that answers every request by `answer(request text)`, one
/// piece after another (each written on its own), and closes each
/// connection after `per_conn` answers; counts connections.
async fn server<F>(per_conn: usize, answer: F) -> (String, tokio::sync::mpsc::UnboundedReceiver<()>)
where
    F: Fn(&str) -> Vec<String> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (accepted, count) = tokio::sync::mpsc::unbounded_channel();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            accepted.send(()).unwrap();
            let answer = answer.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                for _ in 0..per_conn {
                    let Some(req) = read_request(&mut r).await else {
                        return;
                    };
                    for piece in answer(&req) {
                        w.write_all(piece.as_bytes()).await.unwrap();
                        w.flush().await.unwrap();
                        tokio::task::yield_now().await;
                    }
                }
            });
        }
    });
    (base, count)
}

/// Answers with the request's own text, as one write.
fn echo(req: &str) -> Vec<String> {
    vec![format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{req}",
        req.len()
    )]
}

fn text(body: &Bytes) -> String {
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn keeps_one_connection_and_sends_the_headers() {
    let (base, mut accepted) = server(usize::MAX, echo).await;
    let endpoint = Endpoint::new(&base).await.unwrap();
    let mut client = Client::new(endpoint.clone());
    let target = endpoint.target("/api/v1/enrollments").unwrap();
    for course in 1..=3 {
        let body = format!("{{\"course_id\":{course}}}");
        let req = endpoint.post_json(&target, "session=abc", body.as_bytes());
        let (status, body) = client.send(&req).await.unwrap();
        let text = text(&body).to_ascii_lowercase();
        assert_eq!(status, 200);
        assert!(
            text.starts_with("post /api/v1/enrollments http/1.1\r\n"),
            "{text}"
        );
        for h in [
            "host: 127.0.0.1:",
            "cookie: session=abc",
            "content-type: application/json",
            "content-length: 15",
        ] {
            assert!(text.contains(h), "{h} missing: {text}");
        }
        assert!(
            text.ends_with(&format!("\r\n\r\n{{\"course_id\":{course}}}")),
            "{text}"
        );
    }
    let get = endpoint.get(&endpoint.target("/t/1-2").unwrap(), "s=1");
    let (_, body) = client.send(&get).await.unwrap();
    assert!(text(&body).starts_with("GET /t/1-2 HTTP/1.1\r\n"));
    assert!(!text(&body).contains("content-length"), "a GET has no body");
    accepted.recv().await.unwrap();
    assert!(
        accepted.try_recv().is_err(),
        "four requests, one connection"
    );
}

#[tokio::test]
async fn reconnects_when_the_server_closes_the_connection() {
    let (base, mut accepted) = server(1, echo).await;
    let endpoint = Endpoint::new(&base).await.unwrap();
    let mut client = Client::new(endpoint.clone());
    let req = endpoint.get(&endpoint.target("/x").unwrap(), "s=1");
    for _ in 0..3 {
        let (status, body) = client.send(&req).await.unwrap();
        assert_eq!(status, 200);
        assert!(text(&body).starts_with("GET /x "));
    }
    for _ in 0..3 {
        accepted.recv().await.unwrap();
    }
}

#[tokio::test]
async fn an_answer_in_pieces_chunked_or_closing_is_read_whole() {
    let (base, mut accepted) = server(usize::MAX, |req: &str| {
        if req.starts_with("GET /chunked ") {
            [
                "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n",
                "\r\n5\r\nhel",
                "lo\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n",
                "\r\n",
            ]
            .map(String::from)
            .to_vec()
        } else if req.starts_with("GET /close ") {
            vec!["HTTP/1.1 409 Conflict\r\nConnection: close\r\ncontent-length: 2\r\n\r\nno".into()]
        } else {
            vec![
                "HTTP/1.1 202 Accepted\r\ncontent-le".into(),
                "ngth: 4\r\n\r\nab".into(),
                "cd".into(),
            ]
        }
    })
    .await;
    let endpoint = Endpoint::new(&base).await.unwrap();
    let mut client = Client::new(endpoint.clone());
    let get = |path: &str| endpoint.get(&endpoint.target(path).unwrap(), "s=1");
    let (status, body) = client.send(&get("/pieces")).await.unwrap();
    assert_eq!((status, text(&body).as_str()), (202, "abcd"));
    let (status, body) = client.send(&get("/chunked")).await.unwrap();
    assert_eq!((status, text(&body).as_str()), (201, "hello, world"));
    let (status, body) = client.send(&get("/close")).await.unwrap();
    assert_eq!((status, text(&body).as_str()), (409, "no"));
    // `Connection: close` is honoured: the next request opens a new
    // connection (and is not an error).
    let (status, _) = client.send(&get("/pieces")).await.unwrap();
    assert_eq!(status, 202);
    accepted.recv().await.unwrap();
    accepted.recv().await.unwrap();
    assert!(accepted.try_recv().is_err(), "two connections");
}

#[tokio::test]
async fn a_body_without_a_length_ends_where_the_server_closes() {
    // One answer per connection, then the server closes it.
    let (base, mut accepted) = server(1, |_: &str| {
        vec![
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ".into(),
            "the close".into(),
        ]
    })
    .await;
    let endpoint = Endpoint::new(&base).await.unwrap();
    let mut client = Client::new(endpoint.clone());
    let get = endpoint.get(&endpoint.target("/eof").unwrap(), "s=1");
    for _ in 0..2 {
        let (status, body) = client.send(&get).await.unwrap();
        assert_eq!((status, text(&body).as_str()), (200, "until the close"));
    }
    accepted.recv().await.unwrap();
    accepted.recv().await.unwrap();
}

#[tokio::test]
async fn a_garbled_answer_is_an_error_and_the_connection_is_dropped() {
    let (base, mut accepted) = server(usize::MAX, |req: &str| {
        if req.starts_with("GET /bad ") {
            vec!["HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n".into()]
        } else {
            echo(req)
        }
    })
    .await;
    let endpoint = Endpoint::new(&base).await.unwrap();
    let mut client = Client::new(endpoint.clone());
    let bad = endpoint.get(&endpoint.target("/bad").unwrap(), "s=1");
    let err = client.send(&bad).await.unwrap_err();
    assert!(format!("{err:#}").contains("content-length"), "{err:#}");
    let ok = endpoint.get(&endpoint.target("/ok").unwrap(), "s=1");
    assert_eq!(client.send(&ok).await.unwrap().0, 200);
    accepted.recv().await.unwrap();
    accepted.recv().await.unwrap();
}

#[tokio::test]
async fn an_event_stream_gives_each_chunk_as_it_comes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (go, mut next) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, mut w) = stream.into_split();
        let req = read_request(&mut BufReader::new(r)).await.unwrap();
        assert!(req.starts_with("GET /events HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("cookie: s=9\r\n"), "{req}");
        w.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        while let Some(piece) = next.recv().await {
            w.write_all(piece.as_bytes()).await.unwrap();
        }
    });
    let endpoint = Endpoint::new(&base).await.unwrap();
    let (status, mut stream) = endpoint
        .open_stream(&endpoint.target("/events").unwrap(), "s=9")
        .await
        .unwrap();
    assert_eq!(status, 200);
    let mut out = Vec::new();
    go.send("d\r\nevent: ready\n\r\n").unwrap();
    assert!(stream.next_data(&mut out).await.unwrap());
    assert_eq!(out, b"event: ready\n");
    go.send("2\r\n\n\n\r\n").unwrap();
    assert!(stream.next_data(&mut out).await.unwrap());
    assert_eq!(out, b"event: ready\n\n\n");
    go.send("0\r\n\r\n").unwrap();
    assert!(!stream.next_data(&mut out).await.unwrap(), "the body ended");
}

#[tokio::test]
async fn a_refused_connection_is_an_error_and_https_is_refused() {
    let port = testkit::free_port();
    let endpoint = Endpoint::new(&format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    let mut client = Client::new(endpoint.clone());
    let req = endpoint.get(&endpoint.target("/x").unwrap(), "s=1");
    let err = client.send(&req).await.unwrap_err();
    assert!(format!("{err:#}").contains("cannot connect"), "{err:#}");
    assert!(Endpoint::new("https://127.0.0.1:1").await.is_err());
}

#[tokio::test]
async fn keeps_the_base_path_prefix_and_refuses_what_would_break_a_line() {
    let (base, _accepted) = server(usize::MAX, echo).await;
    let endpoint = Endpoint::new(&format!("{base}/prefix/")).await.unwrap();
    let mut client = Client::new(endpoint.clone());
    let req = endpoint.get(&endpoint.target("/api").unwrap(), "s=1");
    let (_, body) = client.send(&req).await.unwrap();
    assert!(text(&body).starts_with("GET /prefix/api HTTP/1.1\r\n"));
    assert!(endpoint.target("/a\r\nx: y").is_err());
    assert!(endpoint.target("/a b").is_err());
    assert!(endpoint.target("a").is_err());
    assert!(check_header_text("cookie", "s=1\r\nx: y").is_err());
    assert!(check_header_text("cookie", "s=1; t=2").is_ok());
}
