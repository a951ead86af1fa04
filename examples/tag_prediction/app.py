"""A small front end for the served tagger: a question in, its tags out, and feedback on them.

    streamlit run examples/tag_prediction/app.py        # the server: $TAGGER_URL, default http://127.0.0.1:8080

"Predict tags" sends the title and body to the server's ``/invocations`` and shows the
``predicted_tags``. "These tags are right" sends them back as the label of that request
(``POST /feedback``, matched by the ``x-request-id`` the server answered with); "These
tags are wrong" sends the tags written in the correction box instead.
"""

from __future__ import annotations

import os

import httpx
import streamlit as st

DEFAULT_URL = os.environ.get("TAGGER_URL", "http://127.0.0.1:8080")


def predict(url: str, title: str, body: str) -> tuple[str, list[str]]:
    """The request id and the predicted tags of one question."""
    answer = httpx.post(f"{url}/invocations", json={"dataframe_records": [{"title": title, "body": body}]},
                        timeout=30)
    answer.raise_for_status()
    return answer.headers["x-request-id"], answer.json()["predictions"][0]["predicted_tags"]


def send_feedback(url: str, request_id: str, tags: list[str]) -> None:
    httpx.post(f"{url}/feedback", json={"request_id": request_id, "label": tags}, timeout=30).raise_for_status()


st.title("Tag prediction")
url = st.text_input("Model server", DEFAULT_URL, key="url").rstrip("/")
title = st.text_input("Title", key="title")
body = st.text_area("Body", key="body")

if st.button("Predict tags", key="predict", disabled=not title.strip()):
    try:
        st.session_state.request_id, st.session_state.tags = predict(url, title, body)
        st.session_state.sent = None
    except httpx.HTTPError as exc:
        st.error(f"The model server did not answer: {exc}")

if "tags" in st.session_state:
    tags = st.session_state.tags
    st.subheader("Predicted tags")
    st.write(", ".join(f"`{t}`" for t in tags) if tags else "No tag reaches the threshold.")
    correction = st.text_input("The right tags, comma-separated (for \"wrong\")", ", ".join(tags), key="correction")
    right, wrong = st.columns(2)
    label = None
    if right.button("These tags are right", key="right"):
        label = tags
    if wrong.button("These tags are wrong", key="wrong"):
        label = [t.strip() for t in correction.split(",") if t.strip()]
    if label is not None:
        try:
            send_feedback(url, st.session_state.request_id, label)
            st.session_state.sent = label
        except httpx.HTTPError as exc:
            st.error(f"The feedback was not taken: {exc}")
    if st.session_state.get("sent") is not None:
        st.success(f"Feedback sent: {', '.join(st.session_state.sent) or 'no tags'}")
