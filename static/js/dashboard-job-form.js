// New job form: more files than the server takes in one request are
// refused here, with the reason, before anything is sent.

for (const form of document.querySelectorAll("form[data-max-files]")) {
  const most = Number(form.dataset.maxFiles);
  const notice = form.querySelector("[data-files-notice]");
  form.addEventListener("submit", (event) => {
    const count = [...form.querySelectorAll("input[type=file]")].reduce((sum, input) => sum + input.files.length, 0);
    if (count > most) {
      event.preventDefault();
      notice.hidden = false;
      notice.textContent = `${count} files chosen; at most ${most} go in one job form. Send a zip, or fewer files.`;
    }
  });
}
