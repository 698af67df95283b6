/**
 * envkit's front end for JupyterLab 4 and Notebook 7.
 *
 * The kernel side (`envkit/frontend.py`) opens a comm to target `envkit` when `%load_ext envkit`
 * runs. From then on this extension
 *  - sends the notebook as the editor holds it (unsaved cells included) on that comm just before
 *    each execute request of the notebook: the kernel handles shell messages in order, so the
 *    document is there when the cell that needs it runs;
 *  - applies the records the kernel sends (`metadata.envkit`) to the open document model, so the
 *    user's own save (or autosave) writes them: the file is never changed behind the editor.
 * The protocol is described in docs/frontend.md. It holds no build logic.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

/** The comm target the kernel opens. */
export const TARGET = 'envkit';
/** The protocol version this front end speaks (docs/frontend.md). */
export const PROTOCOL = 1;
/** The metadata key envkit owns; nothing else in the document is touched. */
export const METADATA_KEY = 'envkit';

type Context = DocumentRegistry.IContext<INotebookModel>;

/** One open comm: the kernel connection it lives on and the document it serves. */
interface ILink {
  comm: Kernel.IComm;
  context: Context;
}

/** The comm of each kernel connection (a notebook's views share one connection and one model). */
const links = new WeakMap<Kernel.IKernelConnection, ILink>();
/** Kernel connections the comm target is registered on. */
const registered = new WeakSet<Kernel.IKernelConnection>();

function serverRoot(): string {
  return PageConfig.getOption('serverRoot') || PageConfig.getOption('rootUri') || '';
}

/** The notebook as the editor holds it: metadata and every cell's source, without outputs. */
export function documentMessage(context: Context, seq: number): Record<string, unknown> {
  const model = context.model;
  const shared = model.sharedModel;
  const cells = shared.cells.map(cell => {
    const base = { id: cell.id, cell_type: cell.cell_type, source: cell.getSource(), metadata: {} };
    return cell.cell_type === 'code' ? { ...base, outputs: [], execution_count: null } : base;
  });
  return {
    type: 'document',
    protocol: PROTOCOL,
    seq,
    path: context.path,
    server_root: serverRoot(),
    dirty: model.dirty,
    nbformat: model.nbformat,
    nbformat_minor: model.nbformatMinor,
    metadata: shared.getMetadata(),
    cells
  };
}

let seq = 0;

function sendDocument(link: ILink): void {
  if (link.comm.isDisposed || link.context.isDisposed) {
    return;
  }
  seq += 1;
  link.comm.send(documentMessage(link.context, seq) as any);
}

/** Apply a record from the kernel to the open model; the user's save persists it. */
function applyRecord(link: ILink, data: Record<string, any>): void {
  const request = data.request ?? null;
  const model = link.context.model;
  try {
    if (data.path && data.path !== link.context.path) {
      throw new Error(`record for ${data.path}, but this document is ${link.context.path}`);
    }
    if (data.record === null || data.record === undefined) {
      model.deleteMetadata(METADATA_KEY);
    } else {
      model.setMetadata(METADATA_KEY, data.record);
    }
    link.comm.send({ type: 'applied', protocol: PROTOCOL, request, path: link.context.path, ok: true });
  } catch (err) {
    link.comm.send({
      type: 'applied', protocol: PROTOCOL, request, path: link.context.path, ok: false, error: String(err)
    });
  }
}

function onCommOpen(kernel: Kernel.IKernelConnection, context: Context, comm: Kernel.IComm,
                    msg: KernelMessage.ICommOpenMsg): void {
  const offered = Number((msg.content.data as any)?.protocol ?? 0);
  if (offered !== PROTOCOL) {
    // A kernel speaking another version: say which one this front end speaks, then stay silent.
    comm.send({ type: 'unsupported', protocol: PROTOCOL });
    return;
  }
  adopt(kernel, context, comm);
}

/**
 * After a page reload (or a second tab) envkit's comm is already open in the kernel: find it
 * with a comm_info request and attach to it, as ipywidgets does for its comms.
 */
async function reconnect(kernel: Kernel.IKernelConnection, context: Context): Promise<void> {
  try {
    const reply = await kernel.requestCommInfo({ target_name: TARGET });
    if (reply.content.status !== 'ok' || links.has(kernel) || kernel.isDisposed) {
      return;
    }
    const ids = Object.keys(reply.content.comms);
    if (ids.length > 0 && !kernel.hasComm(ids[0])) {
      adopt(kernel, context, kernel.createComm(TARGET, ids[0]));
    }
  } catch (err) {
    console.debug('envkit: no comm to attach to', err);
  }
}

function adopt(kernel: Kernel.IKernelConnection, context: Context, comm: Kernel.IComm): void {
  const link: ILink = { comm, context };
  links.set(kernel, link);
  comm.onMsg = (m: KernelMessage.ICommMsgMsg) => {
    const data = m.content.data as Record<string, any>;
    if (data?.type === 'record') {
      applyRecord(link, data);
    } else if (data?.type === 'request-document') {
      sendDocument(link);
    }
  };
  comm.onClose = () => {
    if (links.get(kernel) === link) {
      links.delete(kernel);
    }
  };
  comm.send({
    type: 'hello', protocol: PROTOCOL, app: 'jupyterlab', path: context.path, server_root: serverRoot()
  });
  sendDocument(link);
}

/** Listen for envkit's comm on the panel's kernel, now and after every kernel change. */
function watch(panel: NotebookPanel): void {
  const sessionContext = panel.sessionContext;
  const register = () => {
    const kernel = sessionContext.session?.kernel;
    if (!kernel || registered.has(kernel)) {
      return;
    }
    registered.add(kernel);
    kernel.registerCommTarget(TARGET, (comm, msg) => onCommOpen(kernel, panel.context, comm, msg));
    void reconnect(kernel, panel.context);
  };
  sessionContext.kernelChanged.connect(register);
  void sessionContext.ready.then(register);
  register();
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@envkit/jupyterlab:plugin',
  description: 'Lets envkit in the kernel read the open notebook and write its record into it.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.forEach(watch);
    tracker.widgetAdded.connect((_, panel) => watch(panel));
    // Emitted synchronously just before the cell's execute request is sent: a document sent
    // now reaches the kernel's shell channel ahead of that request.
    NotebookActions.executionScheduled.connect((_, { notebook }) => {
      const panel = tracker.find(p => p.content === notebook);
      const kernel = panel?.sessionContext.session?.kernel;
      const link = kernel ? links.get(kernel) : undefined;
      if (link) {
        sendDocument(link);
      }
    });
    console.debug(`envkit: front end active (protocol ${PROTOCOL})`);
  }
};

export default plugin;
